"""Kafka handlers: the campaign copy, assigned tickets, statement lines, a family's erasure, and this
service's share of a campaign's purge. Each runs inside the runtime's transaction that also records
the event id, so a redelivery changes nothing twice."""

from __future__ import annotations

import asyncpg

from carnet_contracts import events
from carnet_runtime import Service

from .wiring import Affiliation


def register(service: Service, app: Affiliation) -> None:
    service.applies(app.joining, {
        events.CampaignPublished: app.campaigns.published,
        events.TicketCredited: app.reimbursements.ticket_credited,
        events.TicketAssigned: app.reimbursements.ticket_assigned,
        events.TicketVoided: app.reimbursements.ticket_voided,
        events.TicketRedeemed: app.reimbursements.ticket_redeemed,
        events.RedemptionCancelled: app.reimbursements.redemption_cancelled,
        events.GuardianErasureRequested: app.privacy.guardian_erased,
    })

    @service.on_campaign_purge
    async def campaign_purged(conn: asyncpg.Connection, event: events.CampaignPurgeStarted) -> None:
        await app.privacy.campaign_purged(app.joining(conn), event)
