"""HTTP routes of the wallet (API.md, Wallet): parse, load the wallet, call one domain method, answer."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

import asyncpg
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import Counter, Histogram
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints

from carnet_contracts import ticket_code
from carnet_contracts.events import TicketAssigned, TicketCredited, TicketsEmailRequested, TicketVoidRequested
from carnet_runtime import DomainError, Forbidden, NotFound, Service
from carnet_runtime.auth import Principal, require

from . import store
from .domain import MAX_TICKETS_PER_SHEET, Affiliate, Refusal, Ticket, TicketStatus, Wallet
from .settings import WalletSettings
from .sheet import Sheet, SheetTicket, render_sheet

# Where each refusal of the domain lands in HTTP: the one place that knows.
REFUSAL_STATUS = {
    "AMOUNT_OUT_OF_RANGE": 422,
    "AFFILIATE_NOT_ACTIVE": 422,
    "POSITIONS_INVALID": 422,
    "ALLOWANCE_EXCEEDED": 409,
    "TICKET_NOT_BLANK": 409,
    "PASS_EXPIRED": 409,
    "TICKET_NOT_CREDITED": 409,
    "TICKET_NOT_PRINTABLE": 409,
    "NO_CREDITED_TICKET": 409,
    "TICKET_UNKNOWN": 404,
}

CREDITS = Counter("carnet_wallet_credits_total", "Credit requests by outcome (credited or the refusal code)",
                  ["outcome"])
SHEET_SECONDS = Histogram("carnet_wallet_sheet_render_seconds", "Time to render one ticket sheet",
                          buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1))

# A service token may fetch a sheet only with this scope, and only the notification service's.
SHEET_SCOPE = "wallet.tickets_pdf"
SHEET_CALLERS = ("notification",)

_WALLET_UNKNOWN = ("WALLET_UNKNOWN", "Ce porte-monnaie électronique n'existe pas ou ne vous est pas accessible.")


# Ids of other services are opaque, but never free text: this keeps control bytes away from SQL.
OpaqueId = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._:-]+$")]
CampaignId = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")]


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


def install(app: FastAPI) -> None:
    @app.exception_handler(Refusal)
    async def refused(_: Request, exc: Refusal) -> JSONResponse:
        error = DomainError(exc.code, exc.message, status=REFUSAL_STATUS.get(exc.code, 409), details=exc.details)
        return JSONResponse(error.body(), status_code=error.status)


def router(service: Service, settings: WalletSettings) -> APIRouter:
    routes = APIRouter(prefix="/v1", tags=["wallet"])
    key = settings.code_hash_key

    @routes.get("/wallets/{wallet_id}")
    async def get_wallet(wallet_id: UUID, principal: Principal = require("family", "admin")) -> dict[str, Any]:
        """The wallet with its tickets; ticket codes only for the family that owns it."""
        async with service.pool.acquire() as conn:
            wallet = await _wallet(conn, wallet_id, principal, readers=("admin",))
            names = await store.affiliates(conn, [t.affiliate_id for t in wallet.tickets])
        return wallet_view(wallet, _now(), with_codes=_owns(principal, wallet), affiliates=names)

    @routes.post("/wallets/{wallet_id}/tickets/{ticket_id}/credit")
    async def credit(wallet_id: UUID, ticket_id: UUID, body: CreditBody,
                     principal: Principal = require("family")) -> dict[str, Any]:
        """Credit a blank ticket with an amount, optionally for one affiliate."""
        now = _now()
        async with service.transaction() as conn:
            wallet = await _wallet(conn, wallet_id, principal, for_update=True)
            known = await store.affiliates(conn, [body.affiliate_id] if body.affiliate_id else [])
            try:
                ticket = wallet.credit(ticket_id, body.amount_cents, code=ticket_code.generate(), now=now,
                                       affiliate_id=body.affiliate_id, known_affiliates=known)
            except Refusal as refusal:
                CREDITS.labels(refusal.code).inc()
                raise
            await store.save_ticket(conn, ticket)
            await service.outbox.add(conn, TicketCredited(
                ticket_id=str(ticket.ticket_id), wallet_id=str(wallet.wallet_id),
                campaign_id=wallet.terms.campaign_id, position=ticket.position,
                code_hash=ticket_code.code_hash(ticket.code, key), code_suffix=ticket_code.display_suffix(ticket.code),
                amount_cents=ticket.amount_cents, affiliate_id=ticket.affiliate_id, valid_until=wallet.valid_until,
                credited_at=now,
            ))
        CREDITS.labels("credited").inc()
        return ticket_view(wallet, ticket, now, with_codes=True, affiliates=known)

    @routes.put("/wallets/{wallet_id}/tickets/{ticket_id}/affiliate")
    async def assign(wallet_id: UUID, ticket_id: UUID, body: AssignBody,
                     principal: Principal = require("family")) -> dict[str, Any]:
        """Reserve a credited ticket for one affiliate, or (null) for any."""
        now = _now()
        async with service.transaction() as conn:
            wallet = await _wallet(conn, wallet_id, principal, for_update=True)
            known = await store.affiliates(conn, [body.affiliate_id] if body.affiliate_id else [])
            ticket = wallet.assign(ticket_id, body.affiliate_id, now=now, known_affiliates=known)
            await store.save_ticket(conn, ticket)
            await service.outbox.add(conn, TicketAssigned(
                ticket_id=str(ticket.ticket_id), wallet_id=str(wallet.wallet_id),
                campaign_id=wallet.terms.campaign_id, affiliate_id=ticket.affiliate_id,
                code_suffix=ticket_code.display_suffix(ticket.code), amount_cents=ticket.amount_cents,
                assigned_at=now,
            ))
        return ticket_view(wallet, ticket, now, with_codes=True, affiliates=known)

    @routes.post("/wallets/{wallet_id}/tickets/{ticket_id}/void", status_code=202)
    async def void(wallet_id: UUID, ticket_id: UUID, principal: Principal = require("family")) -> dict[str, Any]:
        """Ask to void a credited ticket: the redemption service answers, by event, whether it was spent."""
        now = _now()
        async with service.transaction() as conn:
            wallet = await _wallet(conn, wallet_id, principal, for_update=True)
            ticket = wallet.request_void(ticket_id, now=now)
            await store.save_ticket(conn, ticket)
            await service.outbox.add(conn, TicketVoidRequested(
                ticket_id=str(ticket.ticket_id), wallet_id=str(wallet.wallet_id),
                campaign_id=wallet.terms.campaign_id, requested_at=now,
            ))
        return ticket_view(wallet, ticket, now, with_codes=False, affiliates={})

    @routes.get("/wallets/{wallet_id}/tickets.pdf", response_class=Response,
                responses={200: {"content": {"application/pdf": {}}}})
    async def sheet(wallet_id: UUID, positions: str | None = None,
                    principal: Principal = require("family", "correspondent", "service", "admin",
                                                    service_scope=SHEET_SCOPE)) -> Response:
        """One A4 page with the requested credited tickets (`positions=1,2,3`; all credited when absent)."""
        async with service.pool.acquire() as conn:
            wallet = await _wallet(conn, wallet_id, principal, readers=("correspondent", "service", "admin"))
            chosen = wallet.sheet_tickets(_positions(positions), now=_now())
            names = await store.affiliates(conn, [t.affiliate_id for t in chosen])
        with SHEET_SECONDS.time():
            pdf = await asyncio.to_thread(render_sheet, sheet_of(wallet, chosen, names))
        return Response(pdf, media_type="application/pdf", headers={
            "Content-Disposition": 'attachment; filename="tickets-pass.pdf"',
            "Cache-Control": "no-store",  # the sheet holds spendable codes
        })

    @routes.post("/wallets/{wallet_id}/tickets/email", status_code=202)
    async def email(wallet_id: UUID, body: EmailBody | None = None,
                    principal: Principal = require("family")) -> dict[str, Any]:
        """E-mail the sheet to the guardian. The event names the tickets; the notification service
        fetches the sheet from this API, so no code travels on Kafka."""
        now = _now()
        async with service.transaction() as conn:
            wallet = await _wallet(conn, wallet_id, principal)
            chosen = wallet.sheet_tickets(body.positions if body else None, now=now)
            request_id = str(uuid.uuid4())
            positions = [t.position for t in chosen]
            await service.outbox.add(conn, TicketsEmailRequested(
                request_id=request_id, wallet_id=str(wallet.wallet_id), campaign_id=wallet.terms.campaign_id,
                positions=positions, guardian_email=wallet.guardian_email,
                student_first_name=wallet.student.first_name, requested_at=now,
            ))
        return {"request_id": request_id, "wallet_id": str(wallet.wallet_id), "positions": positions}

    @routes.get("/stats")
    async def stats(campaign_id: CampaignId | None = None, principal: Principal = require("admin")) -> dict[str, Any]:
        """Passes with a wallet, credited amount, tickets by amount and by status."""
        async with service.pool.acquire() as conn:
            found = await store.figures(conn, campaign_id, _now())
        return figures_view(found, campaign_id, settings.watched_amounts_cents)

    return routes


# -- access ----------------------------------------------------------------------------------------


def _owns(principal: Principal, wallet: Wallet) -> bool:
    return principal.role == "family" and wallet.owner_sub is not None and principal.sub == wallet.owner_sub


async def _wallet(conn: asyncpg.Connection, wallet_id: UUID, principal: Principal, *,
                  readers: tuple[str, ...] = (), for_update: bool = False) -> Wallet:
    """The wallet if `principal` may see it: its family, or a reader role (a correspondent only for
    its own school). Another family gets 404, so that the wallet's existence does not leak."""
    wallet = await store.load_wallet(conn, wallet_id, for_update=for_update)
    if wallet is None or (principal.role == "family" and not _owns(principal, wallet)):
        raise NotFound(*_WALLET_UNKNOWN, details={"wallet_id": str(wallet_id)})
    if principal.role == "family":
        return wallet
    if principal.role not in readers or (principal.role == "service" and principal.sub not in SHEET_CALLERS):
        raise Forbidden("FORBIDDEN", "Vous n'avez pas accès à cette fonction.")
    if principal.role == "correspondent" and principal.school_id != wallet.school_id:
        raise Forbidden("OTHER_SCHOOL", "Ce porte-monnaie électronique est celui d'un élève d'un autre collège.")
    return wallet


def _positions(text: str | None) -> list[int] | None:
    if text is None or not text.strip():
        return None
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise Refusal("POSITIONS_INVALID",
                      f"Choisissez de 1 à {MAX_TICKETS_PER_SHEET} tickets différents à imprimer.",
                      {"positions": text}) from None


def _now() -> datetime:
    return datetime.now(UTC)


# -- answers -----------------------------------------------------------------------------------------


def wallet_view(wallet: Wallet, now: datetime, *, with_codes: bool, affiliates: dict[str, Affiliate]) -> dict[str, Any]:
    return {
        "wallet_id": str(wallet.wallet_id),
        "application_id": wallet.application_id,
        "campaign_id": wallet.terms.campaign_id,
        "campaign_label": wallet.terms.label,
        "school_id": wallet.school_id,
        "student": {"last_name": wallet.student.last_name, "first_name": wallet.student.first_name,
                    "level": wallet.student.level},
        "allowance_cents": wallet.allowance_cents,
        "credited_cents": wallet.credited_cents,
        "remaining_cents": wallet.remaining_cents,
        "ticket_min_cents": wallet.terms.ticket_min_cents,
        "ticket_max_cents": wallet.terms.ticket_max_cents,
        "valid_until": wallet.valid_until.isoformat(),
        "expired": wallet.is_expired(now),
        "tickets": [ticket_view(wallet, t, now, with_codes=with_codes, affiliates=affiliates) for t in wallet.tickets],
    }


def ticket_view(wallet: Wallet, ticket: Ticket, now: datetime, *, with_codes: bool,
                affiliates: dict[str, Affiliate]) -> dict[str, Any]:
    status = ticket.status_at(now, wallet.valid_until)
    show_code = with_codes and status is TicketStatus.CREDITED
    affiliate = affiliates.get(ticket.affiliate_id) if ticket.affiliate_id else None
    return {
        "ticket_id": str(ticket.ticket_id),
        "position": ticket.position,
        "status": status.value,
        "amount_cents": ticket.amount_cents,
        "code": ticket.code if show_code else None,
        "code_display": ticket_code.format_groups(ticket.code) if show_code else None,
        "code_suffix": ticket_code.display_suffix(ticket.code) if ticket.code else None,
        "affiliate_id": ticket.affiliate_id,
        "affiliate_name": affiliate.name if affiliate else None,
        "credited_at": ticket.credited_at.isoformat() if ticket.credited_at else None,
        "redeemed_at": ticket.redeemed_at.isoformat() if ticket.redeemed_at else None,
        "void_refusal_reason": ticket.void_refusal_reason,
    }


def sheet_of(wallet: Wallet, tickets: list[Ticket], affiliates: dict[str, Affiliate]) -> Sheet:
    return Sheet(
        student_name=wallet.student.full_name,
        campaign_label=wallet.terms.label,
        valid_until=wallet.valid_until,
        tickets=[
            SheetTicket(position=t.position, code=t.code, amount_cents=t.amount_cents,
                        affiliate_name=affiliates[t.affiliate_id].name if t.affiliate_id in affiliates else None)
            for t in tickets
        ],
    )


def figures_view(found: dict[str, Any], campaign_id: str | None, watched: list[int]) -> dict[str, Any]:
    by_status = {status.value: 0 for status in TicketStatus}
    by_status.update(found["tickets_by_status"])
    by_amount: dict[int, dict[str, Any]] = {}
    for amount, status, count in found["amount_rows"]:
        entry = by_amount.setdefault(amount, {"amount_cents": amount, "count": 0, "by_status": {}})
        entry["by_status"][status] = count
        # a voided ticket's amount went back to the allowance: it is not a ticket of that amount any more
        if status != TicketStatus.VOIDED.value:
            entry["count"] += count
    return {
        "campaign_id": campaign_id,
        "passes_with_wallet": found["wallets"],
        "wallets_with_redeemed_ticket": found["wallets_with_redeemed_ticket"],
        "allowance_cents": found["allowance_cents"],
        "credited_cents": found["credited_cents"],
        "remaining_cents": found["allowance_cents"] - found["credited_cents"],
        "tickets_by_status": by_status,
        "tickets_by_amount": list(by_amount.values()),
        "watched_amounts": {str(a): by_amount.get(a, {"count": 0})["count"] for a in watched},
    }
