"""Kafka handlers: each runs its use case in the runtime's transaction (which also records the
event id, so a redelivered event changes nothing twice)."""

from __future__ import annotations

import asyncpg

from carnet_contracts.envelope import Envelope
from carnet_contracts.events import (
    AffiliateActivated,
    AffiliateSuspended,
    CampaignPublished,
    ReimbursementBatchCreated,
    TicketAssigned,
    TicketCredited,
    TicketVoidRequested,
)
from carnet_runtime import Service

from . import application
from .store import RedemptionUnitOfWork


def register(service: Service) -> None:
    @service.on(TicketCredited)
    async def credited(conn: asyncpg.Connection, event: TicketCredited, _: Envelope) -> None:
        await application.credit_ticket(RedemptionUnitOfWork.joining(conn, service.outbox), event)

    @service.on(TicketAssigned)
    async def assigned(conn: asyncpg.Connection, event: TicketAssigned, _: Envelope) -> None:
        await application.assign_ticket(RedemptionUnitOfWork.joining(conn, service.outbox), event)

    @service.on(TicketVoidRequested)
    async def void_requested(conn: asyncpg.Connection, event: TicketVoidRequested, _: Envelope) -> None:
        await application.void_ticket(RedemptionUnitOfWork.joining(conn, service.outbox), event)

    @service.on(AffiliateActivated)
    async def activated(conn: asyncpg.Connection, event: AffiliateActivated, _: Envelope) -> None:
        await application.activate_affiliate(RedemptionUnitOfWork.joining(conn, service.outbox), event)

    @service.on(AffiliateSuspended)
    async def suspended(conn: asyncpg.Connection, event: AffiliateSuspended, _: Envelope) -> None:
        await application.suspend_affiliate(RedemptionUnitOfWork.joining(conn, service.outbox), event)

    @service.on(CampaignPublished)
    async def published(conn: asyncpg.Connection, event: CampaignPublished, _: Envelope) -> None:
        await application.publish_campaign(RedemptionUnitOfWork.joining(conn, service.outbox), event)

    @service.on(ReimbursementBatchCreated)
    async def batched(conn: asyncpg.Connection, event: ReimbursementBatchCreated, _: Envelope) -> None:
        await application.lock_in_batch(RedemptionUnitOfWork.joining(conn, service.outbox), event)
