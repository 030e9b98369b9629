"""Kafka handlers: each runs its use case in the runtime's transaction (which also records the
event id, so a redelivered event changes nothing twice); and this service's share of a campaign's
purge, in the runtime's purge transaction."""

from __future__ import annotations

import functools

import asyncpg

from carnet_contracts.events import (
    AffiliateActivated,
    AffiliateSuspended,
    CampaignPublished,
    CampaignPurgeStarted,
    ReimbursementBatchCreated,
    TicketAssigned,
    TicketCredited,
    TicketReplaceRequested,
    TicketVoidRequested,
)
from carnet_runtime import Service

from . import application
from .store import RedemptionUnitOfWork


def register(service: Service) -> None:
    joining = functools.partial(RedemptionUnitOfWork.joining, outbox=service.outbox)
    service.applies(joining, {
        TicketCredited: application.credit_ticket,
        TicketAssigned: application.assign_ticket,
        TicketVoidRequested: application.void_ticket,
        TicketReplaceRequested: application.replace_ticket,
        AffiliateActivated: application.activate_affiliate,
        AffiliateSuspended: application.suspend_affiliate,
        CampaignPublished: application.publish_campaign,
        ReimbursementBatchCreated: application.lock_in_batch,
    })

    @service.on_campaign_purge
    async def purge(conn: asyncpg.Connection, event: CampaignPurgeStarted) -> None:
        await application.purge_campaign(joining(conn), event)
