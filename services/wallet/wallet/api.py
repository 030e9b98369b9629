"""HTTP routes of the wallet (API.md, Wallet): parse, call one use case, answer a response model."""

from __future__ import annotations

import asyncio
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import Counter, Histogram
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints

from carnet_runtime import Refusal, Service
from carnet_runtime.auth import Principal, require

from .application import SHEET_SCOPE, AssignTicket, CreditTicket, WalletUseCases
from .domain import MAX_TICKETS_PER_SHEET
from .settings import WalletSettings
from .sheet import render_sheet
from .store import WalletUnitOfWork
from .views import EmailRequestView, TicketView, WalletFigures, WalletView, figures_view, one_ticket, sheet_of, wallet_view

CREDITS = Counter("carnet_wallet_credits_total", "Credit requests by outcome (credited or the refusal code)",
                  ["outcome"])
SHEET_SECONDS = Histogram("carnet_wallet_sheet_render_seconds", "Time to render one ticket sheet",
                          buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1))

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


def router(service: Service, settings: WalletSettings, use_cases: WalletUseCases) -> APIRouter:
    routes = APIRouter(prefix="/v1", tags=["wallet"])

    def uow() -> WalletUnitOfWork:
        return WalletUnitOfWork(service.pool, service.outbox)

    @routes.get("/wallets/{wallet_id}")
    async def get_wallet(wallet_id: UUID, principal: Principal = require("family", "admin")) -> WalletView:
        """The wallet with its tickets; ticket codes only for the family that owns it."""
        return wallet_view(await use_cases.show(uow(), principal, wallet_id))

    @routes.post("/wallets/{wallet_id}/tickets/{ticket_id}/credit")
    async def credit(wallet_id: UUID, ticket_id: UUID, body: CreditBody,
                     principal: Principal = require("family")) -> TicketView:
        """Credit a blank ticket with an amount, optionally for one affiliate."""
        try:
            shown = await use_cases.credit(uow(), principal, CreditTicket(
                wallet_id, ticket_id, body.amount_cents, body.affiliate_id))
        except Refusal as refusal:
            CREDITS.labels(refusal.code).inc()
            raise
        CREDITS.labels("credited").inc()
        return one_ticket(shown)

    @routes.put("/wallets/{wallet_id}/tickets/{ticket_id}/affiliate")
    async def assign(wallet_id: UUID, ticket_id: UUID, body: AssignBody,
                     principal: Principal = require("family")) -> TicketView:
        """Reserve a credited ticket for one affiliate, or (null) for any."""
        return one_ticket(await use_cases.assign(uow(), principal, AssignTicket(wallet_id, ticket_id, body.affiliate_id)))

    @routes.post("/wallets/{wallet_id}/tickets/{ticket_id}/void", status_code=202)
    async def void(wallet_id: UUID, ticket_id: UUID, principal: Principal = require("family")) -> TicketView:
        """Ask to void a credited ticket: the redemption service answers, by event, whether it was spent."""
        return one_ticket(await use_cases.request_void(uow(), principal, wallet_id, ticket_id))

    @routes.get("/wallets/{wallet_id}/tickets.pdf", response_class=Response,
                responses={200: {"content": {"application/pdf": {}}, "description": "One A4 page of tickets"}})
    async def sheet(wallet_id: UUID, positions: str | None = None,
                    principal: Principal = require("family", "correspondent", "service", "admin",
                                                   service_scope=SHEET_SCOPE)) -> Response:
        """One A4 page with the requested credited tickets (`positions=1,2,3`; all credited when absent)."""
        shown = await use_cases.sheet(uow(), principal, wallet_id, parse_positions(positions))
        with SHEET_SECONDS.time():
            pdf = await asyncio.to_thread(render_sheet, sheet_of(shown))
        return Response(pdf, media_type="application/pdf", headers={
            "Content-Disposition": 'attachment; filename="tickets-pass.pdf"',
            "Cache-Control": "no-store",  # the sheet holds spendable codes
        })

    @routes.post("/wallets/{wallet_id}/tickets/email", status_code=202)
    async def email(wallet_id: UUID, body: EmailBody | None = None,
                    principal: Principal = require("family")) -> EmailRequestView:
        """E-mail the sheet to the guardian."""
        requested = await use_cases.email_sheet(uow(), principal, wallet_id, body.positions if body else None)
        return EmailRequestView(request_id=requested.request_id, wallet_id=requested.wallet_id,
                                positions=requested.positions)

    @routes.get("/stats")
    async def stats(campaign_id: CampaignId | None = None, principal: Principal = require("admin")) -> WalletFigures:
        """Passes with a wallet, credited amount, tickets by amount and by status."""
        found = await use_cases.figures(uow(), campaign_id)
        return figures_view(found, campaign_id, settings.watched_amounts_cents)

    return routes


def parse_positions(text: str | None) -> list[int] | None:
    if text is None or not text.strip():
        return None
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise Refusal("POSITIONS_INVALID",
                      f"Choisissez de 1 à {MAX_TICKETS_PER_SHEET} tickets différents à imprimer.",
                      {"positions": text}) from None
