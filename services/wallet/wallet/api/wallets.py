"""A wallet and what its family (or, for a paper wallet, the school's correspondent or the admin)
does with its tickets."""

from __future__ import annotations

from typing import TYPE_CHECKING
from uuid import UUID

from fastapi import APIRouter
from prometheus_client import Counter
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from carnet_runtime import Refusal
from carnet_runtime.auth import Principal, require

from ..application import AssignTicket, CreditTicket
from ..views import EmailRequestView, TicketView, WalletView, one_ticket, wallet_view
from .parsing import OpaqueId

if TYPE_CHECKING:
    from ..app import WalletApp

CREDITS = Counter("carnet_wallet_credits_total", "Credit requests by outcome (credited or the refusal code)",
                  ["outcome"])
# The family; for a wallet from a paper application, its school's correspondent and the admin too
# (application/access.py decides, wallet by wallet).
OWNER_ROLES = ("family", "correspondent", "admin")


class CreditBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount_cents: StrictInt = Field(description="Amount in euro cents, within the campaign's ticket bounds")
    affiliate_id: OpaqueId | None = Field(None, description="Reserve the ticket for this active affiliate")


class AssignBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    affiliate_id: OpaqueId | None = Field(description="The affiliate, or null for any affiliate")


class EmailBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    positions: list[StrictInt] | None = Field(None, description="Tickets to send; every credited ticket when absent")


def router(app: WalletApp) -> APIRouter:
    routes = APIRouter(prefix="/v1", tags=["wallet"])
    use_cases = app.use_cases

    @routes.get("/wallets/{wallet_id}")
    async def get_wallet(wallet_id: UUID, principal: Principal = require(*OWNER_ROLES)) -> WalletView:
        """The wallet with its tickets; codes for its family (or whoever acts for a paper wallet's family)."""
        return wallet_view(await use_cases.show(app.uow(), principal, wallet_id))

    @routes.post("/wallets/{wallet_id}/tickets/{ticket_id}/credit")
    async def credit(wallet_id: UUID, ticket_id: UUID, body: CreditBody,
                     principal: Principal = require(*OWNER_ROLES)) -> TicketView:
        """Credit a blank ticket with an amount, optionally for one affiliate: it gets a new code."""
        try:
            shown = await use_cases.credit(app.uow(), principal, CreditTicket(
                wallet_id, ticket_id, body.amount_cents, body.affiliate_id))
        except Refusal as refusal:
            CREDITS.labels(refusal.code).inc()
            raise
        CREDITS.labels("credited").inc()
        return one_ticket(shown)

    @routes.put("/wallets/{wallet_id}/tickets/{ticket_id}/affiliate")
    async def assign(wallet_id: UUID, ticket_id: UUID, body: AssignBody,
                     principal: Principal = require(*OWNER_ROLES)) -> TicketView:
        """Reserve a credited ticket for one affiliate, or (null) for any."""
        return one_ticket(await use_cases.assign(app.uow(), principal,
                                                 AssignTicket(wallet_id, ticket_id, body.affiliate_id)))

    @routes.post("/wallets/{wallet_id}/tickets/{ticket_id}/void", status_code=202)
    async def void(wallet_id: UUID, ticket_id: UUID, principal: Principal = require(*OWNER_ROLES)) -> TicketView:
        """Ask to void a credited ticket (`void_pending`): once the redemption service has retired its
        code it is blank again, or back as it was with the reason if it was redeemed."""
        return one_ticket(await use_cases.request_void(app.uow(), principal, wallet_id, ticket_id))

    @routes.post("/wallets/{wallet_id}/tickets/{ticket_id}/replace", status_code=202)
    async def replace(wallet_id: UUID, ticket_id: UUID, principal: Principal = require(*OWNER_ROLES)) -> TicketView:
        """A lost or stolen credited ticket (`replace_pending`): once the redemption service has revoked
        its code it is credited again with a new code, e-mailed to the guardian; or `redeemed` with the
        reason if it was redeemed meanwhile."""
        return one_ticket(await use_cases.request_replace(app.uow(), principal, wallet_id, ticket_id))

    @routes.post("/wallets/{wallet_id}/tickets/email", status_code=202)
    async def email(wallet_id: UUID, body: EmailBody | None = None,
                    principal: Principal = require(*OWNER_ROLES)) -> EmailRequestView:
        """E-mail the sheet, as it is now, to the guardian."""
        requested = await use_cases.email_sheet(app.uow(), principal, wallet_id, body.positions if body else None)
        return EmailRequestView(request_id=requested.request_id, wallet_id=requested.wallet_id,
                                positions=requested.positions)

    return routes
