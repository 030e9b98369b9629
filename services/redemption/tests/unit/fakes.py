"""In-memory stand-ins for the store (cosmicpython's fake repositories and unit of work): the same
methods as redemption.store's, over dicts, with the guards its SQL holds. `FakeDatabase.committed`
holds every event written with its change (by a one-statement write or at a unit of work's commit)."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from carnet_contracts.envelope import Event
from carnet_runtime import UnitOfWork
from redemption import domain as d
from redemption.store import Look, Spent, StoredAnswer


@dataclass
class FakeDatabase:
    tickets: dict[str, d.Ticket] = field(default_factory=dict)
    code_hashes: dict[str, str] = field(default_factory=dict)  # code hash -> ticket id
    code_suffixes: dict[str, str] = field(default_factory=dict)  # ticket id -> code suffix
    affiliates: dict[str, d.Affiliate] = field(default_factory=dict)
    campaigns: dict[str, tuple[d.Campaign, date]] = field(default_factory=dict)
    redemptions: dict[str, d.Redemption] = field(default_factory=dict)
    keys: dict[tuple[str, str], tuple[StoredAnswer, datetime]] = field(default_factory=dict)
    retired: dict[str, tuple[str, d.Retired]] = field(default_factory=dict)  # code hash -> (ticket id, why)
    committed: list[Event] = field(default_factory=list)

    def snapshot(self) -> FakeDatabase:
        return FakeDatabase(**{k: copy.copy(v) for k, v in self.__dict__.items()})

    def restore(self, snapshot: FakeDatabase) -> None:
        self.__dict__.update(snapshot.__dict__)


class FakeScannerStore:
    """redemption.store.ScannerStore over a FakeDatabase. `before_write`, when set, runs once just
    before the next `spend_or_look` or `keep_refusal` (what a competing request does just before this
    one's statement); `always_lose` makes every spend lose its race (the ticket seen redeemable, yet
    not spent)."""

    def __init__(self, db: FakeDatabase, limit: d.GuessingLimit):
        self.db = db
        self.limit = limit
        self.before_write: Callable[[], Awaitable[None]] | None = None
        self.always_lose = False

    async def _competitor(self) -> None:
        if self.before_write is not None:
            competitor, self.before_write = self.before_write, None
            await competitor()

    @asynccontextmanager
    async def connection(self):
        yield None

    async def look(self, conn: Any, affiliate_id: str, code_hash: str, idempotency_key: str | None) -> Look:
        retired = self.db.retired.get(code_hash)
        ticket_id = retired[0] if retired else self.db.code_hashes.get(code_hash)
        kept = self.db.keys.get((affiliate_id, idempotency_key)) if idempotency_key is not None else None
        return Look(
            self.db.affiliates.get(affiliate_id),
            self.db.tickets.get(ticket_id) if ticket_id else None,
            self.db.code_suffixes.get(ticket_id) if ticket_id else None,
            kept[0] if kept else None,
            retired[1] if retired else None,
        )

    async def spend_or_look(self, conn: Any, affiliate_id: str, code_hash: str, idempotency_key: str,
                            redemption_id: str, now: datetime, event: Event) -> Spent | None:
        await self._competitor()
        ticket = self.db.tickets.get(self.db.code_hashes.get(code_hash, ""))
        affiliate = self.db.affiliates.get(affiliate_id)
        if (
            self.always_lose
            or (affiliate_id, idempotency_key) in self.db.keys
            or ticket is None
            or ticket.status is not d.TicketStatus.REDEEMABLE
            or ticket.is_expired(now)
            or ticket.reserved_for not in (None, affiliate_id)
            or affiliate is None
            or not affiliate.active
            or self.limit.retry_after(affiliate.unknown_codes_tat, now) is not None
        ):
            return Spent(None, await self.look(conn, affiliate_id, code_hash, idempotency_key))
        spent, redemption = d.redeem(ticket, affiliate_id, redemption_id, now)
        self.db.tickets[ticket.ticket_id] = spent
        self.db.redemptions[redemption_id] = redemption
        self.db.keys[(affiliate_id, idempotency_key)] = (StoredAnswer(code_hash, 201, redemption.answer()), now)
        self.db.committed.append(event.model_copy(update={
            "ticket_id": ticket.ticket_id, "wallet_id": ticket.wallet_id, "campaign_id": ticket.campaign_id,
            "amount_cents": ticket.amount_cents, "code_suffix": self.db.code_suffixes[ticket.ticket_id]}))
        return Spent(ticket, await self.look(conn, affiliate_id, code_hash, idempotency_key))

    async def keep_refusal(self, conn: Any, affiliate_id: str, idempotency_key: str, fingerprint: str,
                           status_code: int, answer: dict[str, Any], now: datetime, unknown_code: bool,
                           event: Event) -> bool:
        await self._competitor()
        if (affiliate_id, idempotency_key) in self.db.keys:
            return False
        self.db.keys[(affiliate_id, idempotency_key)] = (StoredAnswer(fingerprint, status_code, answer), now)
        if unknown_code:
            await self.note_unknown_code(conn, affiliate_id, now)
        self.db.committed.append(event)
        return True

    async def note_unknown_code(self, conn: Any, affiliate_id: str, now: datetime) -> None:
        affiliate = self.db.affiliates.get(affiliate_id)
        if affiliate is not None:
            tat = self.limit.after_unknown_code(affiliate.unknown_codes_tat, now)
            self.db.affiliates[affiliate_id] = replace(affiliate, unknown_codes_tat=tat)

    async def redemptions_of(self, affiliate_id: str, since: datetime | None, until: datetime | None,
                             limit: int) -> list[tuple[d.Redemption, str]]:
        found = sorted(
            (r for r in self.db.redemptions.values() if r.affiliate_id == affiliate_id
             and (since is None or r.redeemed_at >= since) and (until is None or r.redeemed_at < until)),
            key=lambda r: (r.redeemed_at, r.redemption_id),
        )
        return [(r, self.db.code_suffixes[r.ticket_id]) for r in found[:limit]]

    async def forget_old_keys(self, older_than: timedelta) -> None:
        horizon = datetime.now(UTC) - older_than
        self.db.keys = {k: v for k, v in self.db.keys.items() if v[1] >= horizon}


class FakeTickets:
    def __init__(self, db: FakeDatabase):
        self.db = db

    async def get_for_update(self, ticket_id: str) -> d.Ticket | None:
        return self.db.tickets.get(ticket_id)

    async def save_credited(self, ticket: d.Ticket, code_hash: str, code_suffix: str) -> None:
        self.db.code_hashes = {h: t for h, t in self.db.code_hashes.items() if t != ticket.ticket_id}
        self.db.code_hashes[code_hash] = ticket.ticket_id
        self.db.code_suffixes[ticket.ticket_id] = code_suffix
        self.db.tickets[ticket.ticket_id] = ticket

    async def save(self, ticket: d.Ticket) -> None:
        if ticket.ticket_id in self.db.tickets:
            self.db.tickets[ticket.ticket_id] = ticket

    def _code_hash_of(self, ticket_id: str) -> str | None:
        return next((h for h, t in self.db.code_hashes.items() if t == ticket_id), None)

    async def is_retired(self, code_hash: str) -> bool:
        return code_hash in self.db.retired

    async def retire_code(self, ticket_id: str, reason: d.Retired, now: datetime) -> None:
        code_hash = self._code_hash_of(ticket_id)
        if code_hash is not None:
            self.db.retired.setdefault(code_hash, (ticket_id, reason))

    async def replace_code(self, ticket_id: str, code_hash: str, code_suffix: str,
                           now: datetime) -> tuple[bool, d.Ticket | None]:
        ticket = self.db.tickets.get(ticket_id)
        if ticket is None or ticket.status is not d.TicketStatus.REDEEMABLE:
            return False, ticket
        old = self._code_hash_of(ticket_id)
        if old is not None:
            del self.db.code_hashes[old]
            self.db.retired[old] = (ticket_id, d.Retired.REPLACED)
        self.db.code_hashes[code_hash] = ticket_id
        self.db.code_suffixes[ticket_id] = code_suffix
        return True, ticket


class FakeRedemptions:
    def __init__(self, db: FakeDatabase):
        self.db = db

    async def get_for_update(self, redemption_id: uuid.UUID) -> tuple[d.Redemption, d.Ticket, d.Campaign | None] | None:
        redemption = self.db.redemptions.get(str(redemption_id))
        if redemption is None:
            return None
        campaign = self.db.campaigns.get(redemption.campaign_id)
        return redemption, self.db.tickets[redemption.ticket_id], campaign[0] if campaign else None

    async def save_cancelled(self, redemption: d.Redemption) -> None:
        self.db.redemptions[redemption.redemption_id] = redemption

    async def forget_correctors(self, campaign_id: str) -> None:
        for redemption_id, r in self.db.redemptions.items():
            if r.campaign_id == campaign_id and r.cancelled_by_role is d.CancelledBy.ADMIN:
                self.db.redemptions[redemption_id] = replace(r, cancelled_by=None, cancel_reason=None)

    async def lock_in_batch(self, batch_id: str, redemption_ids: list[str]) -> int:
        locked = 0
        for redemption_id in redemption_ids:
            redemption = self.db.redemptions.get(redemption_id)
            if redemption is not None and redemption.batch_id is None:
                self.db.redemptions[redemption_id] = d.lock_in_batch(redemption, batch_id)
                locked += 1
        return locked


class FakeAffiliates:
    def __init__(self, db: FakeDatabase):
        self.db = db

    async def set_active(self, affiliate_id: str, active: bool) -> None:
        known = self.db.affiliates.get(affiliate_id)
        self.db.affiliates[affiliate_id] = replace(known, active=active) if known else d.Affiliate(affiliate_id, active)


class FakeCampaigns:
    def __init__(self, db: FakeDatabase):
        self.db = db

    async def save(self, campaign: d.Campaign, pass_valid_until: date) -> None:
        self.db.campaigns[campaign.campaign_id] = (campaign, pass_valid_until)
        for ticket_id, ticket in self.db.tickets.items():
            if ticket.campaign_id == campaign.campaign_id and ticket.valid_until != pass_valid_until:
                self.db.tickets[ticket_id] = replace(ticket, valid_until=pass_valid_until)


class FakeRedemptionUnitOfWork(UnitOfWork):
    """redemption.store.RedemptionUnitOfWork over a FakeDatabase: all or nothing; `published` events
    join `db.committed` at commit."""

    def __init__(self, db: FakeDatabase):
        super().__init__()
        self.db = db
        self.tickets = FakeTickets(db)
        self.redemptions = FakeRedemptions(db)
        self.affiliates = FakeAffiliates(db)
        self.campaigns = FakeCampaigns(db)
        self._before: FakeDatabase | None = None

    async def __aenter__(self) -> FakeRedemptionUnitOfWork:
        await super().__aenter__()
        self._before = self.db.snapshot()
        return self

    async def __aexit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.db.committed.extend(event for event, _ in self.published)
        elif self._before is not None:
            self.db.restore(self._before)
        await super().__aexit__(exc_type, exc, tb)
