"""Kafka handlers: each passes its contract event to one use case, in the runtime's transaction
(which also records the event id, so a redelivered event changes nothing twice)."""

from __future__ import annotations

import asyncpg
from prometheus_client import Counter

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
)
from carnet_runtime import Service

from .application import WalletUseCases
from .store import PublishedTerms, WalletUnitOfWork

WALLETS_CREATED = Counter("carnet_wallet_wallets_created_total", "Wallets created from granted passes")


def register(service: Service, use_cases: WalletUseCases) -> None:
    def joining(conn: asyncpg.Connection) -> WalletUnitOfWork:
        return WalletUnitOfWork.joining(conn, service.outbox)

    @service.on(PassGranted)
    async def pass_granted(conn: asyncpg.Connection, event: PassGranted, _: Envelope) -> None:
        if await use_cases.pass_granted(joining(conn), event) is not None:
            WALLETS_CREATED.inc()

    @service.on(TicketRedeemed)
    async def ticket_redeemed(conn: asyncpg.Connection, event: TicketRedeemed, _: Envelope) -> None:
        await use_cases.ticket_changed(joining(conn), event.wallet_id, event.ticket_id,
                                       lambda w, t: w.ticket_redeemed(t, redeemed_at=event.redeemed_at))

    @service.on(RedemptionCancelled)
    async def redemption_cancelled(conn: asyncpg.Connection, event: RedemptionCancelled, _: Envelope) -> None:
        await use_cases.ticket_changed(joining(conn), event.wallet_id, event.ticket_id,
                                       lambda w, t: w.redemption_cancelled(t))

    @service.on(TicketVoided)
    async def ticket_voided(conn: asyncpg.Connection, event: TicketVoided, _: Envelope) -> None:
        await use_cases.ticket_changed(joining(conn), event.wallet_id, event.ticket_id, lambda w, t: w.ticket_voided(t))

    @service.on(TicketVoidRefused)
    async def void_refused(conn: asyncpg.Connection, event: TicketVoidRefused, _: Envelope) -> None:
        await use_cases.ticket_changed(joining(conn), event.wallet_id, event.ticket_id,
                                       lambda w, t: w.void_refused(t, event.reason_code))

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
