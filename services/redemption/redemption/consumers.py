"""Kafka handlers: each parses its contract, asks the domain, writes in the runtime's transaction
(which also records the event id, so a redelivered event changes nothing twice)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import asyncpg

from carnet_contracts.envelope import Envelope
from carnet_contracts.events import (
    AffiliateActivated,
    AffiliateSuspended,
    CampaignPublished,
    ReimbursementBatchCreated,
    TicketAssigned,
    TicketCredited,
    TicketVoided,
    TicketVoidRefused,
    TicketVoidRequested,
)
from carnet_runtime import Service

from . import domain as d
from .store import RedemptionStore, outbox_row

log = logging.getLogger(__name__)


def register(service: Service, store: RedemptionStore) -> None:
    @service.on(TicketCredited)
    async def credited(conn: asyncpg.Connection, event: TicketCredited, _: Envelope) -> None:
        existing = await store.ticket_for_update(conn, event.ticket_id)
        incoming = d.Ticket(
            ticket_id=event.ticket_id,
            wallet_id=event.wallet_id,
            campaign_id=event.campaign_id,
            amount_cents=event.amount_cents,
            valid_until=event.valid_until,
            reserved_for=event.affiliate_id,
        )
        if d.apply_credited(existing, incoming) is incoming:
            await store.save_credited(conn, incoming, event.code_hash, event.code_suffix)

    @service.on(TicketAssigned)
    async def assigned(conn: asyncpg.Connection, event: TicketAssigned, _: Envelope) -> None:
        ticket = await store.ticket_for_update(conn, event.ticket_id)
        if ticket is not None:
            await store.save_ticket_state(conn, d.apply_assigned(ticket, event.affiliate_id))

    @service.on(TicketVoidRequested)
    async def void_requested(conn: asyncpg.Connection, event: TicketVoidRequested, _: Envelope) -> None:
        decision = d.void(await store.ticket_for_update(conn, event.ticket_id))
        now = datetime.now(UTC)
        if decision.voided:
            if decision.ticket is not None:
                await store.save_ticket_state(conn, decision.ticket)
            answer = TicketVoided(
                ticket_id=event.ticket_id,
                wallet_id=event.wallet_id,
                campaign_id=event.campaign_id,
                amount_cents=decision.ticket.amount_cents if decision.ticket else 0,
                voided_at=now,
            )
        else:
            assert decision.refusal is not None and decision.ticket is not None
            answer = TicketVoidRefused(
                ticket_id=event.ticket_id,
                wallet_id=event.wallet_id,
                campaign_id=event.campaign_id,
                reason_code=decision.refusal.code,
                reason=decision.refusal.message,
                redeemed_at=decision.ticket.redeemed_at,
            )
        await store.add_event(conn, outbox_row(answer))

    @service.on(AffiliateActivated)
    async def activated(conn: asyncpg.Connection, event: AffiliateActivated, _: Envelope) -> None:
        await store.set_affiliate_active(conn, event.affiliate_id, True)

    @service.on(AffiliateSuspended)
    async def suspended(conn: asyncpg.Connection, event: AffiliateSuspended, _: Envelope) -> None:
        await store.set_affiliate_active(conn, event.affiliate_id, False)

    @service.on(CampaignPublished)
    async def published(conn: asyncpg.Connection, event: CampaignPublished, _: Envelope) -> None:
        campaign = d.Campaign(event.campaign_id, event.redemption_cancel_grace_minutes)
        await store.save_campaign(conn, campaign, event.pass_valid_until)

    @service.on(ReimbursementBatchCreated)
    async def batched(conn: asyncpg.Connection, event: ReimbursementBatchCreated, _: Envelope) -> None:
        locked = await store.lock_in_batch(conn, event.batch_id, event.redemption_ids)
        if locked != len(event.redemption_ids):
            # Already locked by a redelivery under another event id, or unknown here: worth a look, never a stop.
            log.warning(
                "reimbursement batch names redemptions not locked here",
                extra={"batch_id": event.batch_id, "expected": len(event.redemption_ids), "locked": locked},
            )
