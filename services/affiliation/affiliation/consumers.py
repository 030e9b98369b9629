"""Kafka handlers: the campaign copy, assigned tickets, statement lines. Each runs inside the
runtime's transaction that also records the event id, so a redelivery changes nothing twice."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import asyncpg

from carnet_contracts import events
from carnet_contracts.envelope import Envelope
from carnet_runtime import Service

from . import store
from .domain.reimbursement import LineStatus, StatementLine

log = logging.getLogger(__name__)


def register(service: Service) -> None:
    @service.on(events.CampaignPublished)
    async def campaign_published(conn: asyncpg.Connection, event: events.CampaignPublished, _: Envelope) -> None:
        await store.upsert_campaign(
            conn,
            campaign_id=event.campaign_id,
            label=event.label,
            enrolment_opens=event.enrolment_opens,
            pass_valid_until=event.pass_valid_until,
            reimbursement_deadline=event.reimbursement_deadline,
            redemption_cancel_grace_minutes=event.redemption_cancel_grace_minutes,
            now=datetime.now(UTC),
        )

    @service.on(events.TicketCredited)
    async def ticket_credited(conn: asyncpg.Connection, event: events.TicketCredited, _: Envelope) -> None:
        if event.affiliate_id is None:
            return
        await store.assign_ticket(
            conn,
            {
                "ticket_id": event.ticket_id,
                "affiliate_id": event.affiliate_id,
                "wallet_id": event.wallet_id,
                "campaign_id": event.campaign_id,
                "code_suffix": event.code_suffix,
                "amount_cents": event.amount_cents,
                "valid_until": event.valid_until,
                "assigned_at": event.credited_at,
            },
        )

    @service.on(events.TicketAssigned)
    async def ticket_assigned(conn: asyncpg.Connection, event: events.TicketAssigned, _: Envelope) -> None:
        if event.affiliate_id is None:
            await store.unassign_ticket(conn, event.ticket_id)
            return
        await store.assign_ticket(
            conn,
            {
                "ticket_id": event.ticket_id,
                "affiliate_id": event.affiliate_id,
                "wallet_id": event.wallet_id,
                "campaign_id": event.campaign_id,
                "code_suffix": event.code_suffix,
                "amount_cents": event.amount_cents,
                "assigned_at": event.assigned_at,
            },
        )

    @service.on(events.TicketVoided)
    async def ticket_voided(conn: asyncpg.Connection, event: events.TicketVoided, _: Envelope) -> None:
        await store.unassign_ticket(conn, event.ticket_id)

    @service.on(events.TicketRedeemed)
    async def ticket_redeemed(conn: asyncpg.Connection, event: events.TicketRedeemed, _: Envelope) -> None:
        await store.add_statement_line(
            conn,
            StatementLine(
                redemption_id=event.redemption_id,
                affiliate_id=event.affiliate_id,
                campaign_id=event.campaign_id,
                ticket_id=event.ticket_id,
                amount_cents=event.amount_cents,
                redeemed_at=event.redeemed_at,
                status=LineStatus.PENDING,
            ),
            event.wallet_id,
        )

    @service.on(events.RedemptionCancelled)
    async def redemption_cancelled(conn: asyncpg.Connection, event: events.RedemptionCancelled, _: Envelope) -> None:
        before = await store.cancel_statement_line(conn, event.redemption_id, event.cancelled_at)
        if before in (LineStatus.BATCHED.value, LineStatus.PAID.value):
            # the redemption service refuses a cancellation once a batch holds the redemption;
            # reaching here means the two disagree, which staff must look at
            log.error(
                "cancellation of a redemption already in a reimbursement batch",
                extra={"redemption_id": event.redemption_id, "status": before},
            )
