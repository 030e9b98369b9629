"""Kafka handlers: the campaign copy, assigned tickets, statement lines. Each runs inside the
runtime's transaction that also records the event id, so a redelivery changes nothing twice."""

from __future__ import annotations

import asyncpg

from carnet_contracts import events
from carnet_contracts.envelope import Envelope

from carnet_runtime import Service

from .store import AffiliationUnitOfWork
from .wiring import Affiliation


def register(service: Service, app: Affiliation) -> None:
    def uow(conn: asyncpg.Connection) -> AffiliationUnitOfWork:
        return AffiliationUnitOfWork.joining(conn, service.outbox)

    @service.on(events.CampaignPublished)
    async def campaign_published(conn: asyncpg.Connection, event: events.CampaignPublished, _: Envelope) -> None:
        await app.campaigns.published(uow(conn), event)

    @service.on(events.TicketCredited)
    async def ticket_credited(conn: asyncpg.Connection, event: events.TicketCredited, _: Envelope) -> None:
        await app.reimbursements.ticket_credited(uow(conn), event)

    @service.on(events.TicketAssigned)
    async def ticket_assigned(conn: asyncpg.Connection, event: events.TicketAssigned, _: Envelope) -> None:
        await app.reimbursements.ticket_assigned(uow(conn), event)

    @service.on(events.TicketVoided)
    async def ticket_voided(conn: asyncpg.Connection, event: events.TicketVoided, _: Envelope) -> None:
        await app.reimbursements.ticket_voided(uow(conn), event)

    @service.on(events.TicketRedeemed)
    async def ticket_redeemed(conn: asyncpg.Connection, event: events.TicketRedeemed, _: Envelope) -> None:
        await app.reimbursements.ticket_redeemed(uow(conn), event)

    @service.on(events.RedemptionCancelled)
    async def redemption_cancelled(conn: asyncpg.Connection, event: events.RedemptionCancelled, _: Envelope) -> None:
        await app.reimbursements.redemption_cancelled(uow(conn), event)
