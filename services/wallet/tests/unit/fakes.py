"""In-memory stand-ins for the wallet's repositories and unit of work, for unit tests of the use
cases (cosmicpython's FakeUnitOfWork): same methods as store.py's, state kept in dicts."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from datetime import datetime
from uuid import UUID

from carnet_runtime import UnitOfWork
from wallet.domain import Affiliate, Ticket, Wallet
from wallet.store import CampaignFigures, PublishedTerms


class FakeWallets:
    def __init__(self) -> None:
        self.by_id: dict[UUID, Wallet] = {}

    async def add(self, wallet: Wallet) -> bool:
        if any(w.application_id == wallet.application_id for w in self.by_id.values()):
            return False
        self.by_id[wallet.wallet_id] = copy.deepcopy(wallet)
        return True

    async def get(self, wallet_id: UUID, *, for_update: bool = False) -> Wallet | None:
        wallet = self.by_id.get(wallet_id)
        return copy.deepcopy(wallet) if wallet else None  # like a database: a copy, saved explicitly

    async def id_of_application(self, application_id: str) -> UUID | None:
        return next((w.wallet_id for w in self.by_id.values() if w.application_id == application_id), None)

    async def save_ticket(self, ticket: Ticket) -> None:
        for wallet in self.by_id.values():
            for i, stored in enumerate(wallet.tickets):
                if stored.ticket_id == ticket.ticket_id:
                    wallet.tickets[i] = copy.deepcopy(ticket)


class FakeAffiliates:
    def __init__(self) -> None:
        self.by_id: dict[str, Affiliate] = {}

    async def of(self, affiliate_ids: Iterable[str | None]) -> dict[str, Affiliate]:
        return {a: self.by_id[a] for a in affiliate_ids if a in self.by_id}

    async def activated(self, affiliate_id: str, name: str) -> None:
        self.by_id[affiliate_id] = Affiliate(affiliate_id, name, True)

    async def suspended(self, affiliate_id: str) -> None:
        name = self.by_id[affiliate_id].name if affiliate_id in self.by_id else ""
        self.by_id[affiliate_id] = Affiliate(affiliate_id, name, False)


class FakeCampaigns:
    def __init__(self) -> None:
        self.by_id: dict[str, PublishedTerms] = {}

    async def published(self, campaign_id: str, terms: PublishedTerms) -> None:
        self.by_id[campaign_id] = terms

    async def terms(self, campaign_id: str) -> PublishedTerms | None:
        return self.by_id.get(campaign_id)


class FakeFigures:
    async def of_campaign(self, campaign_id: str | None, now: datetime) -> CampaignFigures:
        raise NotImplementedError("figures are SQL: tested on the real database")


class FakeWalletUnitOfWork(UnitOfWork):
    def __init__(self) -> None:
        super().__init__()
        self.wallets = FakeWallets()
        self.affiliates = FakeAffiliates()
        self.campaigns = FakeCampaigns()
        self.figures = FakeFigures()
        self.committed: list = []  # every event of every unit of work that ended without an exception

    async def __aexit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.committed += [event for event, _ in self.published]
        await super().__aexit__(exc_type, exc, tb)
