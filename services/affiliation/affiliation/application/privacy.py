"""Families' data here: none that names anyone. Organisations' statements hold redemptions by
ticket id and amount; assigned tickets hold which wallet chose which organisation until the season
ends. A campaign's purge and a family's erasure take away that link; the amounts stay, for the
statements and the figures (privacy.toml says what each column is and how long it is kept)."""

from __future__ import annotations

import logging

from carnet_contracts import events

from .common import UnitOfWork

log = logging.getLogger(__name__)


class Privacy:
    async def campaign_purged(self, uow: UnitOfWork, event: events.CampaignPurgeStarted) -> None:
        """The season is over: the campaign's assigned tickets go (families' choices, code suffixes);
        statement lines keep their amounts, statuses and dates, without the wallet."""
        async with uow:
            tickets = await uow.assigned_tickets.forget_campaign(event.campaign_id)
            lines = await uow.statements.forget_wallets(campaign_id=event.campaign_id)
        log.info("campaign purged", extra={"campaign_id": event.campaign_id, "assigned_tickets": tickets,
                                           "statement_lines": lines})

    async def guardian_erased(self, uow: UnitOfWork, event: events.GuardianErasureRequested) -> None:
        """The family's wallets are no longer linked to anything here; the organisations' statements
        keep their amounts."""
        async with uow:
            tickets = await uow.assigned_tickets.forget_wallets(event.wallet_ids)
            lines = await uow.statements.forget_wallets(wallet_ids=event.wallet_ids)
        log.info("guardian's wallets forgotten", extra={"erasure_id": event.erasure_id, "assigned_tickets": tickets,
                                                        "statement_lines": lines})
