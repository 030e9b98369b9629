"""An in-memory unit of work for the application services' unit tests (cosmicpython's
FakeUnitOfWork): dict-backed repositories with the methods of the real ones (affiliation/store/).
A block that raises leaves the data as it was and publishes nothing, as a rolled-back transaction."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from types import TracebackType

from carnet_contracts.envelope import Event
from carnet_runtime import UnitOfWork

from affiliation.domain.account import StoredToken, TokenPurpose
from affiliation.domain.convention import AuditRecord
from affiliation.domain.login import LoginHistory
from affiliation.domain.organisation import Affiliate, AffiliateStatus
from affiliation.domain.reimbursement import (
    AssignedTicket,
    Batch,
    BatchFiles,
    BatchStatus,
    Campaign,
    LineStatus,
    Payee,
    StatementLine,
)


@dataclass
class Data:
    affiliates: dict[str, Affiliate] = field(default_factory=dict)
    audit: list[AuditRecord] = field(default_factory=list)
    tokens: dict[str, StoredToken] = field(default_factory=dict)
    failures: list[tuple[str, str, datetime]] = field(default_factory=list)  # login, client, at
    campaigns: dict[str, Campaign] = field(default_factory=dict)
    reminded_campaigns: set[str] = field(default_factory=set)
    reminders: set[tuple[str, str]] = field(default_factory=set)
    assigned: dict[str, AssignedTicket] = field(default_factory=dict)
    lines: dict[str, tuple[StatementLine, str | None]] = field(default_factory=dict)  # with the batch id
    batches: dict[str, tuple[Batch, BatchFiles]] = field(default_factory=dict)


class FakeAffiliates:
    def __init__(self, data: Data) -> None:
        self.data = data

    async def get(self, affiliate_id: str, *, for_update: bool = False) -> Affiliate | None:
        return self.data.affiliates.get(affiliate_id)

    async def by_login(self, login: str) -> Affiliate | None:
        return next((a for a in self.data.affiliates.values() if a.login == login), None)

    async def by_login_or_email(self, identifier: str) -> Affiliate | None:
        wanted = identifier.strip().lower()
        return next((a for a in self.data.affiliates.values()
                     if a.login == wanted or a.contact_email.lower() == wanted), None)

    async def siret_taken(self, siret: str) -> bool:
        return any(a.organisation.siret == siret for a in self.data.affiliates.values())

    async def add(self, affiliate: Affiliate) -> bool:
        if any(a.login == affiliate.login or a.organisation.siret == affiliate.organisation.siret
               for a in self.data.affiliates.values()):
            return False
        self.data.affiliates[affiliate.affiliate_id] = affiliate
        return True

    async def save_account(self, affiliate: Affiliate, now: datetime) -> None:
        stored = self.data.affiliates[affiliate.affiliate_id]
        self.data.affiliates[affiliate.affiliate_id] = replace(
            stored, password_hash=affiliate.password_hash, account_activated_at=affiliate.account_activated_at,
            status=affiliate.status)

    async def save_status(self, affiliate_id: str, status: AffiliateStatus, now: datetime) -> None:
        self.data.affiliates[affiliate_id] = replace(self.data.affiliates[affiliate_id], status=status)

    async def save_convention(self, affiliate: Affiliate, now: datetime) -> None:
        stored = self.data.affiliates[affiliate.affiliate_id]
        self.data.affiliates[affiliate.affiliate_id] = replace(
            stored, convention=affiliate.convention, status=affiliate.status, signed_at=affiliate.signed_at)

    async def directory(self, *, city, activity, text, status, limit, offset) -> list[Affiliate]:
        found = [a for a in self.data.affiliates.values() if a.status.value == status
                 and (city is None or a.organisation.address.city.lower() == city.lower())
                 and (activity is None or a.organisation.activity.value == activity)
                 and (text is None or text.lower() in (a.name + " " + a.organisation.address.city).lower())]
        return sorted(found, key=lambda a: (a.name, a.affiliate_id))[offset:offset + limit]

    async def active(self) -> list[Affiliate]:
        return sorted((a for a in self.data.affiliates.values() if a.status is AffiliateStatus.ACTIVE),
                      key=lambda a: a.affiliate_id)


class FakeAudit:
    def __init__(self, data: Data) -> None:
        self.data = data

    async def append(self, record: AuditRecord) -> None:
        self.data.audit.append(record)

    async def of(self, affiliate_id: str) -> list[AuditRecord]:
        return [r for r in self.data.audit if r.affiliate_id == affiliate_id]


class FakeTokens:
    def __init__(self, data: Data) -> None:
        self.data = data

    async def replace(self, affiliate_id: str, purpose: TokenPurpose, token_hash: str, expires_at: datetime,
                      now: datetime) -> None:
        for key, token in self.data.tokens.items():
            if token.affiliate_id == affiliate_id and token.purpose is purpose and token.used_at is None:
                self.data.tokens[key] = replace(token, used_at=now)
        self.data.tokens[token_hash] = StoredToken(affiliate_id, purpose, token_hash, expires_at)

    async def find(self, token_hashes: list[str], affiliate_id: str | None = None) -> StoredToken | None:
        return next((self.data.tokens[h] for h in token_hashes if h in self.data.tokens
                     and affiliate_id in (None, self.data.tokens[h].affiliate_id)), None)

    async def mark_used(self, token: StoredToken) -> None:
        self.data.tokens[token.token_hash] = token


class FakeLoginFailures:
    def __init__(self, data: Data) -> None:
        self.data = data

    async def lock_client(self, client: str) -> None:
        pass  # one test runs one coroutine at a time

    async def history(self, login: str, client: str, since: datetime, client_account_limit: int) -> LoginHistory:
        recent = [(lg, cl, at) for lg, cl, at in self.data.failures if at > since]
        by_client = [(lg, at) for lg, cl, at in recent if cl == client]
        return LoginHistory(
            account_failures=sum(1 for lg, _, _ in recent if lg == login),
            client_failures=len(by_client),
            client_accounts=len({lg for lg, _ in by_client}),
            client_last_failure=max((at for _, at in by_client), default=None),
            client_account_failures=tuple(sorted((at for lg, at in by_client if lg == login),
                                                 reverse=True)[:client_account_limit]),
        )

    async def record(self, login: str, client: str, at: datetime) -> None:
        self.data.failures.append((login, client, at))

    async def forget(self, login: str, client: str) -> None:
        self.data.failures = [f for f in self.data.failures if (f[0], f[1]) != (login, client)]

    async def purge(self, before: datetime) -> int:
        kept = [f for f in self.data.failures if f[2] >= before]
        purged, self.data.failures = len(self.data.failures) - len(kept), kept
        return purged


class FakeCampaigns:
    def __init__(self, data: Data) -> None:
        self.data = data

    async def save(self, campaign: Campaign, now: datetime) -> None:
        self.data.campaigns[campaign.campaign_id] = campaign

    async def get(self, campaign_id: str, *, for_update: bool = False) -> Campaign | None:
        return self.data.campaigns.get(campaign_id)

    async def due_for_reminders(self, today: date) -> list[Campaign]:
        return [c for c in self.data.campaigns.values() if c.campaign_id not in self.data.reminded_campaigns
                and c.enrolment_opens <= today <= c.pass_valid_until]

    async def mark_reminded(self, campaign_id: str, now: datetime) -> None:
        self.data.reminded_campaigns.add(campaign_id)

    async def record_reminder(self, campaign_id: str, affiliate_id: str, now: datetime) -> bool:
        first = (campaign_id, affiliate_id) not in self.data.reminders
        self.data.reminders.add((campaign_id, affiliate_id))
        return first


class FakeAssignedTickets:
    def __init__(self, data: Data) -> None:
        self.data = data

    async def save(self, ticket: AssignedTicket) -> None:
        known = self.data.assigned.get(ticket.ticket_id)
        valid_until = ticket.valid_until or (known.valid_until if known else None)
        self.data.assigned[ticket.ticket_id] = replace(ticket, valid_until=valid_until)

    async def remove(self, ticket_id: str) -> None:
        self.data.assigned.pop(ticket_id, None)

    async def of(self, affiliate_id: str) -> list[AssignedTicket]:
        redeemed = {line.ticket_id: line.redeemed_at for line, _ in self.data.lines.values()
                    if line.status is not LineStatus.CANCELLED}
        return [replace(t, redeemed_at=redeemed.get(t.ticket_id))
                for t in sorted(self.data.assigned.values(), key=lambda t: (t.assigned_at, t.ticket_id))
                if t.affiliate_id == affiliate_id]


class FakeStatements:
    def __init__(self, data: Data) -> None:
        self.data = data

    async def add(self, line: StatementLine, wallet_id: str) -> None:
        self.data.lines.setdefault(line.redemption_id, (line, None))

    async def status_for_update(self, redemption_id: str) -> LineStatus | None:
        found = self.data.lines.get(redemption_id)
        return found[0].status if found else None

    async def cancel(self, redemption_id: str, at: datetime) -> None:
        line, batch_id = self.data.lines[redemption_id]
        self.data.lines[redemption_id] = (replace(line, status=LineStatus.CANCELLED), batch_id)

    async def of(self, affiliate_id: str, campaign_id: str | None) -> list[tuple[StatementLine, str | None]]:
        return sorted(((line, b) for line, b in self.data.lines.values() if line.affiliate_id == affiliate_id
                       and campaign_id in (None, line.campaign_id)),
                      key=lambda item: (item[0].redeemed_at, item[0].redemption_id))

    async def campaigns_waiting(self) -> list[str]:
        return sorted({line.campaign_id for line, _ in self.data.lines.values()
                       if line.status is LineStatus.PENDING and line.campaign_id in self.data.campaigns})

    async def pending(self, campaign_id: str) -> list[StatementLine]:
        return [line for line, _ in self.data.lines.values()
                if line.campaign_id == campaign_id and line.status is LineStatus.PENDING]

    async def payees(self, affiliate_ids: list[str]) -> dict[str, Payee]:
        return {a.affiliate_id: Payee(a.affiliate_id, a.name, a.organisation.siret, a.organisation.iban, a.bic)
                for a in self.data.affiliates.values() if a.affiliate_id in affiliate_ids}


class FakeBatches:
    def __init__(self, data: Data) -> None:
        self.data = data

    async def add(self, batch: Batch, files: BatchFiles, created_by: str, redemption_ids: list[str]) -> None:
        self.data.batches[batch.batch_id] = (batch, files)
        for redemption_id in redemption_ids:
            line, _ = self.data.lines[redemption_id]
            self.data.lines[redemption_id] = (replace(line, status=LineStatus.BATCHED), batch.batch_id)

    async def get(self, batch_id: str, *, for_update: bool = False) -> Batch | None:
        found = self.data.batches.get(batch_id)
        if found is None:
            return None
        contacts = {a.affiliate_id: a.contact_email for a in self.data.affiliates.values()}
        batch = found[0]
        return replace(batch, transfers=tuple(replace(t, contact_email=contacts[t.affiliate_id])
                                              for t in batch.transfers))

    async def files(self, batch_id: str) -> BatchFiles | None:
        found = self.data.batches.get(batch_id)
        return found[1] if found else None

    async def redemption_ids(self, batch_id: str) -> list[str]:
        return sorted(r for r, (_, b) in self.data.lines.items() if b == batch_id)

    async def mark_paid(self, batch_id: str, now: datetime) -> None:
        batch, files = self.data.batches[batch_id]
        self.data.batches[batch_id] = (replace(batch, status=BatchStatus.PAID, paid_at=now), files)
        for redemption_id, (line, b) in list(self.data.lines.items()):
            if b == batch_id and line.status is LineStatus.BATCHED:
                self.data.lines[redemption_id] = (replace(line, status=LineStatus.PAID), b)


class FakeAffiliationUnitOfWork(UnitOfWork):
    """`committed` holds what every committed block published, in order."""

    def __init__(self, data: Data | None = None) -> None:
        super().__init__()
        self.data = data or Data()
        self.committed: list[Event] = []
        self._snapshot: Data | None = None

    async def __aenter__(self) -> FakeAffiliationUnitOfWork:
        await super().__aenter__()
        self._snapshot = copy.deepcopy(self.data)
        self.affiliates = FakeAffiliates(self.data)
        self.audit = FakeAudit(self.data)
        self.tokens = FakeTokens(self.data)
        self.login_failures = FakeLoginFailures(self.data)
        self.campaigns = FakeCampaigns(self.data)
        self.assigned_tickets = FakeAssignedTickets(self.data)
        self.statements = FakeStatements(self.data)
        self.batches = FakeBatches(self.data)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if exc_type is None:
            self.committed += [event for event, _ in self.published]
        elif self._snapshot is not None:  # rolled back
            self.data.__dict__.update(self._snapshot.__dict__)
        await super().__aexit__(exc_type, exc, tb)

    def of_type(self, event_type: type[Event]) -> list[Event]:
        return [e for e in self.committed if isinstance(e, event_type)]


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class Sleeps:
    """Stands for asyncio.sleep: remembers how long each attempt was held back."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
