"""Kafka handlers: each passes its contract event (or, for granted passes, the events of a batch) to
one use case, in the runtime's transaction (which also records the event ids, so a redelivered event
changes nothing twice)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import asyncpg
from prometheus_client import Counter

from carnet_contracts.envelope import Envelope
from carnet_contracts.events import (
    AffiliateActivated,
    AffiliateSuspended,
    CampaignPublished,
    CampaignPurgeStarted,
    GuardianErasureRequested,
    PassGranted,
    PassGrantedV1,
    RedemptionCancelled,
    TicketRedeemed,
    TicketReplaced,
    TicketReplaceRefused,
    TicketVoided,
    TicketVoidRefused,
)

from .store import PublishedTerms

if TYPE_CHECKING:
    from .app import WalletApp

WALLETS_CREATED = Counter("carnet_wallet_wallets_created_total", "Wallets created from granted passes")


def register(app: WalletApp) -> None:
    service, use_cases, joining = app.service, app.use_cases, app.joining

    # The passes granted that follow one another in a batch, at once: a few queries for all of them.
    # Version 1 messages still on the topic reach this handler too (same event type).
    @service.on_batch(PassGranted)
    async def passes_granted(conn: asyncpg.Connection, events: Sequence[PassGranted | PassGrantedV1],
                             _: Sequence[Envelope]) -> None:
        WALLETS_CREATED.inc(len(await use_cases.passes_granted(joining(conn), events)))

    @service.on(TicketRedeemed)
    async def ticket_redeemed(conn: asyncpg.Connection, event: TicketRedeemed, _: Envelope) -> None:
        await use_cases.ticket_changed(joining(conn), event.wallet_id, event.ticket_id, lambda w, t: w.ticket_redeemed(
            t, redeemed_at=event.redeemed_at, affiliate_id=event.affiliate_id))

    @service.on(RedemptionCancelled)
    async def redemption_cancelled(conn: asyncpg.Connection, event: RedemptionCancelled, _: Envelope) -> None:
        await use_cases.ticket_changed(joining(conn), event.wallet_id, event.ticket_id,
                                       lambda w, t: w.redemption_cancelled(t, then_void=event.then == "void"))

    @service.on(TicketVoided)
    async def ticket_voided(conn: asyncpg.Connection, event: TicketVoided, _: Envelope) -> None:
        await use_cases.ticket_changed(joining(conn), event.wallet_id, event.ticket_id, lambda w, t: w.ticket_voided(t))

    @service.on(TicketVoidRefused)
    async def void_refused(conn: asyncpg.Connection, event: TicketVoidRefused, _: Envelope) -> None:
        await use_cases.ticket_changed(joining(conn), event.wallet_id, event.ticket_id,
                                       lambda w, t: w.void_refused(t, event.reason_code))

    @service.on(TicketReplaced)
    async def ticket_replaced(conn: asyncpg.Connection, event: TicketReplaced, _: Envelope) -> None:
        await use_cases.ticket_replaced(joining(conn), event)

    @service.on(TicketReplaceRefused)
    async def replace_refused(conn: asyncpg.Connection, event: TicketReplaceRefused, _: Envelope) -> None:
        await use_cases.ticket_changed(joining(conn), event.wallet_id, event.ticket_id, lambda w, t: w.replace_refused(
            t, event.reason, redeemed_at=event.redeemed_at, affiliate_id=event.affiliate_id))

    @service.on(AffiliateActivated)
    async def affiliate_activated(conn: asyncpg.Connection, event: AffiliateActivated, _: Envelope) -> None:
        await use_cases.affiliate_activated(joining(conn), event.affiliate_id, event.name)

    @service.on(AffiliateSuspended)
    async def affiliate_suspended(conn: asyncpg.Connection, event: AffiliateSuspended, _: Envelope) -> None:
        await use_cases.affiliate_suspended(joining(conn), event.affiliate_id)

    @service.on(CampaignPublished)
    async def campaign_published(conn: asyncpg.Connection, event: CampaignPublished, _: Envelope) -> None:
        await use_cases.campaign_published(joining(conn), event.campaign_id, PublishedTerms(
            label=event.label, pass_valid_until=event.pass_valid_until,
            ticket_min_cents=event.ticket_min_cents, ticket_max_cents=event.ticket_max_cents,
        ))

    @service.on(GuardianErasureRequested)
    async def erasure_requested(conn: asyncpg.Connection, event: GuardianErasureRequested, _: Envelope) -> None:
        await use_cases.erase(joining(conn), event)

    # The runtime consumes CampaignPurgeStarted and runs this in the same transaction as its own share.
    @service.on_campaign_purge
    async def purge(conn: asyncpg.Connection, event: CampaignPurgeStarted) -> None:
        await use_cases.purge_campaign(joining(conn), event.campaign_id)
