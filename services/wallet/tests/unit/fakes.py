"""In-memory stand-ins for the wallet's repositories and unit of work, for unit tests of the use
cases (cosmicpython's FakeUnitOfWork): same methods as store's, state kept in dicts."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import date, datetime
from uuid import UUID

from carnet_runtime import UnitOfWork
from wallet.domain import Act, Affiliate, HeldGroup, SheetSnapshot, Student, Ticket, TicketStatus, Wallet
from wallet.store import CampaignFigures, PublishedTerms


class FakeWallets:
    def __init__(self) -> None:
        self.by_id: dict[UUID, Wallet] = {}
        self.reminded: dict[UUID, datetime] = {}

    async def add_all(self, wallets: Sequence[Wallet]) -> set[UUID]:
        stored = set()
        for wallet in wallets:
            if not any(w.application_id == wallet.application_id for w in self.by_id.values()):
                self.by_id[wallet.wallet_id] = copy.deepcopy(wallet)
                stored.add(wallet.wallet_id)
        return stored

    async def get(self, wallet_id: UUID, *, for_update: bool = False) -> Wallet | None:
        wallet = self.by_id.get(wallet_id)
        return copy.deepcopy(wallet) if wallet else None  # like a database: a copy, saved explicitly

    async def get_many(self, wallet_ids: Sequence[UUID]) -> list[Wallet]:
        return [copy.deepcopy(self.by_id[w]) for w in wallet_ids if w in self.by_id]

    async def of_owner(self, owner_sub: str) -> list[Wallet]:
        return [copy.deepcopy(w) for w in self.by_id.values() if w.owner_sub == owner_sub]

    async def of_guardian_email(self, email: str) -> list[Wallet]:
        return [copy.deepcopy(w) for w in self.by_id.values()
                if w.guardian_email and w.guardian_email.lower() == email.lower()]

    async def save_ticket(self, ticket: Ticket) -> None:
        for wallet in self.by_id.values():
            for i, stored in enumerate(wallet.tickets):
                if stored.ticket_id == ticket.ticket_id:
                    wallet.tickets[i] = copy.deepcopy(ticket)

    async def due_for_reminder(self, first_day: date, last_day: date, limit: int) -> list[Wallet]:
        due = [w for w in self.by_id.values()
               if w.wallet_id not in self.reminded and w.anonymised_at is None
               and first_day <= w.valid_until <= last_day
               and w.allowance_cents > sum(t.amount_cents for t in w.tickets if t.status is TicketStatus.REDEEMED)]
        return [copy.deepcopy(w) for w in due[:limit]]

    async def mark_reminded(self, wallet_id: UUID, at: datetime) -> None:
        self.reminded[wallet_id] = at
        self.by_id[wallet_id].expiry_reminded_at = at

    async def ids_to_erase(self, wallet_ids: Sequence[UUID], application_ids: Sequence[str],
                           owner_subs: Sequence[str]) -> dict[UUID, list[UUID]]:
        return {w.wallet_id: [t.ticket_id for t in w.tickets] for w in self.by_id.values()
                if w.wallet_id in wallet_ids or w.application_id in application_ids
                or (w.owner_sub is not None and w.owner_sub in owner_subs)}

    async def ids_of_campaign(self, campaign_id: str) -> list[UUID]:
        return [w.wallet_id for w in self.by_id.values() if w.terms.campaign_id == campaign_id]

    async def anonymise(self, wallet_ids: Sequence[UUID], at: datetime) -> int:
        for wallet_id in wallet_ids:
            wallet = self.by_id[wallet_id]
            wallet.student = Student("", "", wallet.student.level)
            wallet.guardian_email, wallet.owner_sub = "", None
            wallet.anonymised_at = wallet.anonymised_at or at
            for ticket in wallet.tickets:
                ticket.code = ticket.pending_code = None
        return len(wallet_ids)


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

    async def terms_of(self, campaign_ids: Iterable[str]) -> dict[str, PublishedTerms]:
        return {c: self.by_id[c] for c in set(campaign_ids) if c in self.by_id}


class FakeFigures:
    def __init__(self, wallets: FakeWallets) -> None:
        self.wallets = wallets

    async def of_campaign(self, campaign_id: str | None, now: datetime) -> CampaignFigures:
        mine = [w for w in self.wallets.by_id.values() if campaign_id in (None, w.terms.campaign_id)]
        return CampaignFigures(wallets=len(mine), allowance_cents=sum(w.allowance_cents for w in mine),
                               wallets_with_redeemed_ticket=0, credited_cents=sum(w.credited_cents for w in mine),
                               tickets_by_status={}, amount_rows=[])

    async def held_groups(self, campaign_id: str | None, as_of: date) -> list[HeldGroup]:
        return [HeldGroup.of_ticket(t.amount_cents, w.valid_until, t.credited_at,
                                    t.redeemed_at if t.status is TicketStatus.REDEEMED else None, as_of)
                for w in self.wallets.by_id.values() if campaign_id in (None, w.terms.campaign_id)
                for t in w.tickets if t.holds_amount]


class FakeActs:
    def __init__(self) -> None:
        self.recorded: list[Act] = []

    async def record(self, acts: Sequence[Act]) -> None:
        self.recorded += acts

    async def of_wallets(self, wallet_ids: Sequence[UUID]) -> list[Act]:
        return [a for a in self.recorded if a.wallet_id in wallet_ids]

    async def anonymise(self, wallet_ids: Sequence[UUID]) -> None:
        self.recorded = [replace(a, actor_sub=None) if a.wallet_id in wallet_ids else a for a in self.recorded]


class FakeSnapshots:
    def __init__(self) -> None:
        self.by_id: dict[UUID, SheetSnapshot] = {}

    async def add(self, snapshot: SheetSnapshot) -> None:
        self.by_id[snapshot.request_id] = snapshot

    async def get(self, request_id: UUID) -> SheetSnapshot | None:
        return self.by_id.get(request_id)

    async def summaries(self, wallet_ids: Sequence[UUID]):
        return [(s.request_id, s.wallet_id, s.reason, s.requested_at, s.positions)
                for s in self.by_id.values() if s.wallet_id in wallet_ids]

    async def delete_older_than(self, before: datetime) -> int:
        old = [r for r, s in self.by_id.items() if s.requested_at < before]
        for request_id in old:
            del self.by_id[request_id]
        return len(old)

    async def delete_of_wallets(self, wallet_ids: Sequence[UUID]) -> None:
        self.by_id = {r: s for r, s in self.by_id.items() if s.wallet_id not in wallet_ids}


class FakeCodes:
    async def reencrypt(self, batch: int) -> int:
        return 0  # codes are held in clear in memory: sealing is the store's, tested on the real database

    async def stranded(self) -> int:
        return 0


class FakeOutboxRows:
    def __init__(self) -> None:
        self.forgotten: list[str] = []

    async def forget(self, message_keys: Iterable[str]) -> None:
        self.forgotten += message_keys


class FakeWalletUnitOfWork(UnitOfWork):
    def __init__(self) -> None:
        super().__init__()
        self.wallets = FakeWallets()
        self.affiliates = FakeAffiliates()
        self.campaigns = FakeCampaigns()
        self.figures = FakeFigures(self.wallets)
        self.acts = FakeActs()
        self.snapshots = FakeSnapshots()
        self.codes = FakeCodes()
        self.outbox_rows = FakeOutboxRows()
        self.committed: list = []  # every event of every unit of work that ended without an exception

    async def __aexit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.committed += [event for event, _ in self.published]
        await super().__aexit__(exc_type, exc, tb)
