"""The answers of the scanner's routes (API.md, Redemption): response models, and how the application's
results become them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, PlainSerializer, WithJsonSchema

from carnet_runtime.http import ErrorBody

from . import domain as d
from .application import RedemptionList, TicketCheck
from .refusals import REFUSALS

# An instant as the first answer of a key was written (datetime.isoformat, "+00:00"), so that a
# redemption reads the same in its 201, its replays, the list and cancel.
Instant = Annotated[
    datetime,
    PlainSerializer(datetime.isoformat, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]


class Redeemed(BaseModel):
    """The 201 of POST /v1/redemptions, and what a retry with the same key gets back."""

    redemption_id: str
    ticket_id: str
    amount_cents: int
    affiliate_id: str
    redeemed_at: Instant


class RedemptionView(Redeemed):
    wallet_id: str
    campaign_id: str
    status: Literal["active", "cancelled"]
    cancelled_at: Instant | None
    in_reimbursement_batch: bool


class ListedRedemption(RedemptionView):
    code_suffix: str = Field(description="The last four symbols of the ticket's code, as printed on it")


class RedemptionListView(BaseModel):
    redemptions: list[ListedRedemption]
    count: int
    total_cents: int = Field(description="Sum of the active (not cancelled) redemptions listed")


class RedeemableTicket(BaseModel):
    """GET /v1/tickets/{ticket_code}: redeeming now would spend this ticket."""

    redeemable: Literal[True]
    ticket_id: str
    amount_cents: int
    valid_until: date = Field(description="The ticket's last valid day (Europe/Paris), included")
    code_suffix: str
    reserved_for_you: bool


class NotRedeemable(ErrorBody):
    """GET /v1/tickets/{ticket_code}: the refusal redeeming would get now, with `redeemable: false`
    beside it (and the ticket's amount when the refusal is about the ticket itself)."""

    redeemable: Literal[False] = False
    amount_cents: int | None = None


def _redemption_fields(r: d.Redemption) -> dict[str, Any]:
    return {
        "redemption_id": r.redemption_id, "ticket_id": r.ticket_id, "amount_cents": r.amount_cents,
        "affiliate_id": r.affiliate_id, "redeemed_at": r.redeemed_at, "wallet_id": r.wallet_id,
        "campaign_id": r.campaign_id, "status": r.status.value, "cancelled_at": r.cancelled_at,
        "in_reimbursement_batch": r.batch_id is not None,
    }


def redemption(r: d.Redemption) -> RedemptionView:
    return RedemptionView(**_redemption_fields(r))


def redemption_list(found: RedemptionList) -> RedemptionListView:
    items = [ListedRedemption(**_redemption_fields(r), code_suffix=suffix) for r, suffix in found.redemptions]
    return RedemptionListView(redemptions=items, count=len(items), total_cents=found.total_cents)


def ticket_check(check: TicketCheck) -> RedeemableTicket | JSONResponse:
    """A redeemable ticket (200), or the refusal redeeming would get, with its status and headers."""
    refusal = check.refusal
    if refusal is None:
        assert check.ticket is not None and check.code_suffix is not None
        ticket = check.ticket
        return RedeemableTicket(redeemable=True, ticket_id=ticket.ticket_id, amount_cents=ticket.amount_cents,
                                valid_until=ticket.valid_until, code_suffix=check.code_suffix,
                                reserved_for_you=check.reserved_for_you)
    body: dict[str, Any] = {"redeemable": False}
    if check.amount_cents is not None:
        body["amount_cents"] = check.amount_cents
    headers = {"Retry-After": str(refusal.retry_after)} if refusal.retry_after is not None else None
    return JSONResponse({**body, **refusal.body()}, status_code=REFUSALS[refusal.code], headers=headers)
