"""Kafka handlers: each parses its contract event and applies it in the runtime's transaction
(which also records the event id, so a redelivered event changes nothing twice)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from uuid import UUID

import asyncpg

from carnet_contracts.envelope import Envelope
from carnet_contracts.events import (
    AffiliateActivated,
    AffiliateSuspended,
    CampaignPublished,
    PassGranted,
    RedemptionCancelled,
    TicketRedeemed,
    TicketVoided,
    TicketVoidRefused,
    WalletCreated,
)
from carnet_runtime import Service
from prometheus_client import Counter

from . import store
from .domain import CampaignTerms, Student, Wallet


WALLETS_CREATED = Counter("carnet_wallet_wallets_created_total", "Wallets created from granted passes")


def register(service: Service) -> None:
    @service.on(PassGranted)
    async def pass_granted(conn: asyncpg.Connection, event: PassGranted, _: Envelope) -> None:
        """Exactly one wallet per granted application, however often the event arrives."""
        if await store.wallet_id_of_application(conn, event.application_id) is not None:
            return
        published = await store.campaign_terms(conn, event.campaign_id) or {}
        terms = CampaignTerms(
            campaign_id=event.campaign_id,
            label=published.get("label", event.campaign_label),
            allowance_cents=event.allowance_cents,
            tickets_per_pass=event.tickets_per_pass,
            ticket_min_cents=published.get("ticket_min_cents", event.ticket_min_cents),
            ticket_max_cents=published.get("ticket_max_cents", event.ticket_max_cents),
            pass_valid_until=published.get("pass_valid_until", event.pass_valid_until),
        )
        wallet = Wallet.open(
            application_id=event.application_id, school_id=event.school_id, owner_sub=event.family_sub,
            guardian_email=event.guardian.email,
            student=Student(event.student.last_name, event.student.first_name, event.student.level),
            terms=terms,
        )
        if not await store.insert_wallet(conn, wallet):
            return  # another consumer of the same application won the unique index
        WALLETS_CREATED.inc()
        await service.outbox.add(conn, WalletCreated(
            wallet_id=str(wallet.wallet_id), application_id=wallet.application_id, campaign_id=terms.campaign_id,
            family_sub=wallet.owner_sub, ticket_count=len(wallet.tickets), allowance_cents=terms.allowance_cents,
            valid_until=terms.pass_valid_until, student_first_name=wallet.student.first_name,
            guardian_email=wallet.guardian_email, created_at=datetime.now(UTC),
        ))

    @service.on(TicketRedeemed)
    async def ticket_redeemed(conn: asyncpg.Connection, event: TicketRedeemed, _: Envelope) -> None:
        await _update_ticket(conn, event.wallet_id, event.ticket_id,
                             lambda w, t: w.ticket_redeemed(t, redeemed_at=event.redeemed_at))

    @service.on(RedemptionCancelled)
    async def redemption_cancelled(conn: asyncpg.Connection, event: RedemptionCancelled, _: Envelope) -> None:
        await _update_ticket(conn, event.wallet_id, event.ticket_id, lambda w, t: w.redemption_cancelled(t))

    @service.on(TicketVoided)
    async def ticket_voided(conn: asyncpg.Connection, event: TicketVoided, _: Envelope) -> None:
        await _update_ticket(conn, event.wallet_id, event.ticket_id, lambda w, t: w.ticket_voided(t))

    @service.on(TicketVoidRefused)
    async def void_refused(conn: asyncpg.Connection, event: TicketVoidRefused, _: Envelope) -> None:
        await _update_ticket(conn, event.wallet_id, event.ticket_id,
                             lambda w, t: w.void_refused(t, event.reason_code))

    @service.on(AffiliateActivated)
    async def affiliate_activated(conn: asyncpg.Connection, event: AffiliateActivated, _: Envelope) -> None:
        await store.affiliate_activated(conn, event.affiliate_id, event.name)

    @service.on(AffiliateSuspended)
    async def affiliate_suspended(conn: asyncpg.Connection, event: AffiliateSuspended, _: Envelope) -> None:
        await store.affiliate_suspended(conn, event.affiliate_id)

    @service.on(CampaignPublished)
    async def campaign_published(conn: asyncpg.Connection, event: CampaignPublished, _: Envelope) -> None:
        await store.campaign_published(
            conn, campaign_id=event.campaign_id, label=event.label, pass_valid_until=event.pass_valid_until,
            ticket_min_cents=event.ticket_min_cents, ticket_max_cents=event.ticket_max_cents,
        )


async def _update_ticket(conn: asyncpg.Connection, wallet_id: str, ticket_id: str,
                         change: Callable[[Wallet, UUID], bool]) -> None:
    """Apply what the redemption service says about one of our tickets; anything else is ignored."""
    try:
        wallet_uuid, ticket_uuid = UUID(wallet_id), UUID(ticket_id)
    except ValueError:
        return  # not an id this service ever gave out
    wallet = await store.load_wallet(conn, wallet_uuid, for_update=True)
    if wallet is None or not change(wallet, ticket_uuid):
        return
    await store.save_ticket(conn, wallet.ticket(ticket_uuid))
