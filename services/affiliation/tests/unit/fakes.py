"""An in-memory unit of work for the application services' unit tests (cosmicpython's
FakeUnitOfWork): dict-backed repositories with the methods of the real ones (affiliation/store/).
A block that raises leaves the data as it was and publishes nothing, as a rolled-back transaction."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

from carnet_runtime.uow import InMemoryRepository, InMemoryUnitOfWork

from affiliation.domain.account import StoredToken, TokenPurpose
from affiliation.domain.convention import AuditRecord
from affiliation.domain.figures import AffiliateFigures, Amount
from affiliation.domain.iban_change import IbanChange
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
    iban_changes: dict[str, IbanChange] = field(default_factory=dict)
    tokens: dict[str, StoredToken] = field(default_factory=dict)
    failures: list[tuple[str, str, datetime]] = field(default_factory=list)  # login, client, at
    campaigns: dict[str, Campaign] = field(default_factory=dict)
    reminded_campaigns: set[str] = field(default_factory=set)
    reminders: set[tuple[str, str]] = field(default_factory=set)
    assigned: dict[str, AssignedTicket] = field(default_factory=dict)
    lines: dict[str, tuple[StatementLine, str | None]] = field(default_factory=dict)  # with the batch id
    batches: dict[str, tuple[Batch, BatchFiles]] = field(default_factory=dict)


class FakeAffiliates(InMemoryRepository):
    async def get(self, affiliate_id: str, *, for_update: bool = False) -> Affiliate | None:
        return self.state.affiliates.get(affiliate_id)

    async def by_login(self, login: str) -> Affiliate | None:
        return next((a for a in self.state.affiliates.values() if a.login == login), None)

    async def by_login_or_email(self, identifier: str) -> Affiliate | None:
        wanted = identifier.strip().lower()
        return next((a for a in self.state.affiliates.values()
                     if a.login == wanted or a.contact_email.lower() == wanted), None)

    async def siret_taken(self, siret: str) -> bool:
        return any(a.organisation.siret == siret for a in self.state.affiliates.values())

    async def add(self, affiliate: Affiliate) -> bool:
        if any(a.login == affiliate.login or a.organisation.siret == affiliate.organisation.siret
               for a in self.state.affiliates.values()):
            return False
        self.state.affiliates[affiliate.affiliate_id] = affiliate
        return True

    async def save_account(self, affiliate: Affiliate, now: datetime) -> None:
        stored = self.state.affiliates[affiliate.affiliate_id]
        self.state.affiliates[affiliate.affiliate_id] = replace(
            stored, password_hash=affiliate.password_hash, account_activated_at=affiliate.account_activated_at,
            status=affiliate.status)

    async def save_details(self, affiliate: Affiliate, now: datetime) -> None:
        stored = self.state.affiliates[affiliate.affiliate_id]
        o = affiliate.organisation
        self.state.affiliates[affiliate.affiliate_id] = replace(stored, organisation=replace(
            stored.organisation, contact_email=o.contact_email, address=o.address, activity=o.activity))

    async def save_iban(self, affiliate: Affiliate, now: datetime) -> None:
        stored = self.state.affiliates[affiliate.affiliate_id]
        self.state.affiliates[affiliate.affiliate_id] = replace(
            stored, organisation=replace(stored.organisation, iban=affiliate.organisation.iban), bic=affiliate.bic)

    async def save_status(self, affiliate_id: str, status: AffiliateStatus, now: datetime) -> None:
        self.state.affiliates[affiliate_id] = replace(self.state.affiliates[affiliate_id], status=status)

    async def save_convention(self, affiliate: Affiliate, now: datetime) -> None:
        stored = self.state.affiliates[affiliate.affiliate_id]
        self.state.affiliates[affiliate.affiliate_id] = replace(
            stored, convention=affiliate.convention, status=affiliate.status, signed_at=affiliate.signed_at)

    async def directory(self, *, city, activity, text, status, limit, offset) -> list[Affiliate]:
        found = [a for a in self.state.affiliates.values() if a.status.value == status
                 and (city is None or a.organisation.address.city.lower() == city.lower())
                 and (activity is None or a.organisation.activity.value == activity)
                 and (text is None or text.lower() in (a.name + " " + a.organisation.address.city).lower())]
        return sorted(found, key=lambda a: (a.name, a.affiliate_id))[offset:offset + limit]

    async def active(self) -> list[Affiliate]:
        return sorted((a for a in self.state.affiliates.values() if a.status is AffiliateStatus.ACTIVE),
                      key=lambda a: a.affiliate_id)

    async def by_status(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for a in self.state.affiliates.values():
            counts[a.status.value] = counts.get(a.status.value, 0) + 1
        return counts

    async def shown_in_figures(self) -> list[AffiliateFigures]:
        return [AffiliateFigures(a.affiliate_id, a.name, a.status.value, a.created_at)
                for a in sorted(self.state.affiliates.values(), key=lambda a: a.affiliate_id)
                if a.status in (AffiliateStatus.ACTIVE, AffiliateStatus.SUSPENDED)]

    async def named(self, affiliate_ids: list[str]) -> list[AffiliateFigures]:
        return [AffiliateFigures(a.affiliate_id, a.name, a.status.value, a.created_at)
                for a in self.state.affiliates.values() if a.affiliate_id in affiliate_ids]


class FakeIbanChanges(InMemoryRepository):
    async def get(self, affiliate_id: str) -> IbanChange | None:
        return self.state.iban_changes.get(affiliate_id)

    async def save(self, change: IbanChange, now: datetime) -> None:
        self.state.iban_changes[change.affiliate_id] = change


class FakeAudit(InMemoryRepository):
    async def append(self, record: AuditRecord) -> None:
        self.state.audit.append(record)

    async def of(self, affiliate_id: str) -> list[AuditRecord]:
        return [r for r in self.state.audit if r.affiliate_id == affiliate_id]


class FakeTokens(InMemoryRepository):
    async def replace(self, affiliate_id: str, purpose: TokenPurpose, token_hash: str, expires_at: datetime,
                      now: datetime) -> None:
        for key, token in self.state.tokens.items():
            if token.affiliate_id == affiliate_id and token.purpose is purpose and token.used_at is None:
                self.state.tokens[key] = replace(token, used_at=now)
        self.state.tokens[token_hash] = StoredToken(affiliate_id, purpose, token_hash, expires_at)

    async def find(self, token_hashes: list[str], affiliate_id: str | None = None) -> StoredToken | None:
        return next((self.state.tokens[h] for h in token_hashes if h in self.state.tokens
                     and affiliate_id in (None, self.state.tokens[h].affiliate_id)), None)

    async def mark_used(self, token: StoredToken) -> None:
        self.state.tokens[token.token_hash] = token


class FakeLoginFailures(InMemoryRepository):
    async def lock_client(self, client: str) -> None:
        pass  # one test runs one coroutine at a time

    async def history(self, login: str, client: str, since: datetime, client_account_limit: int) -> LoginHistory:
        recent = [(lg, cl, at) for lg, cl, at in self.state.failures if at > since]
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
        self.state.failures.append((login, client, at))

    async def forget(self, login: str, client: str) -> None:
        self.state.failures = [f for f in self.state.failures if (f[0], f[1]) != (login, client)]

    async def purge(self, before: datetime) -> int:
        kept = [f for f in self.state.failures if f[2] >= before]
        purged, self.state.failures = len(self.state.failures) - len(kept), kept
        return purged


class FakeCampaigns(InMemoryRepository):
    async def save(self, campaign: Campaign, now: datetime) -> None:
        self.state.campaigns[campaign.campaign_id] = campaign

    async def get(self, campaign_id: str, *, for_update: bool = False) -> Campaign | None:
        return self.state.campaigns.get(campaign_id)

    async def due_for_reminders(self, today: date) -> list[Campaign]:
        return [c for c in self.state.campaigns.values() if c.campaign_id not in self.state.reminded_campaigns
                and c.enrolment_opens <= today <= c.pass_valid_until]

    async def mark_reminded(self, campaign_id: str, now: datetime) -> None:
        self.state.reminded_campaigns.add(campaign_id)

    async def record_reminder(self, campaign_id: str, affiliate_id: str, now: datetime) -> bool:
        first = (campaign_id, affiliate_id) not in self.state.reminders
        self.state.reminders.add((campaign_id, affiliate_id))
        return first


class FakeAssignedTickets(InMemoryRepository):
    async def save(self, ticket: AssignedTicket) -> None:
        known = self.state.assigned.get(ticket.ticket_id)
        valid_until = ticket.valid_until or (known.valid_until if known else None)
        self.state.assigned[ticket.ticket_id] = replace(ticket, valid_until=valid_until)

    async def remove(self, ticket_id: str) -> None:
        self.state.assigned.pop(ticket_id, None)

    async def forget_campaign(self, campaign_id: str) -> int:
        gone = [t for t, ticket in self.state.assigned.items() if ticket.campaign_id == campaign_id]
        for ticket_id in gone:
            del self.state.assigned[ticket_id]
        return len(gone)

    async def forget_wallets(self, wallet_ids: list[str]) -> int:
        found = [t for t in self.state.assigned.values() if t.wallet_id in wallet_ids]
        for ticket in found:
            self.state.assigned[ticket.ticket_id] = replace(ticket, wallet_id=None)
        return len(found)

    async def of(self, affiliate_id: str) -> list[AssignedTicket]:
        redeemed = {line.ticket_id: line.redeemed_at for line, _ in self.state.lines.values()
                    if line.status is not LineStatus.CANCELLED}
        return [replace(t, redeemed_at=redeemed.get(t.ticket_id))
                for t in sorted(self.state.assigned.values(), key=lambda t: (t.assigned_at, t.ticket_id))
                if t.affiliate_id == affiliate_id]


class FakeStatements(InMemoryRepository):
    async def add(self, line: StatementLine) -> None:
        self.state.lines.setdefault(line.redemption_id, (line, None))

    async def forget_wallets(self, wallet_ids: list[str] | None = None, campaign_id: str | None = None) -> int:
        return 0  # lines are written without their wallet

    async def amounts(self, campaign_id: str | None) -> dict[str, dict[LineStatus, Amount]]:
        found: dict[str, dict[LineStatus, Amount]] = {}
        for line, _ in self.state.lines.values():
            if campaign_id in (None, line.campaign_id):
                of = found.setdefault(line.affiliate_id, {})
                of[line.status] = of.get(line.status, Amount()) + Amount(1, line.amount_cents)
        return found

    async def status_for_update(self, redemption_id: str) -> LineStatus | None:
        found = self.state.lines.get(redemption_id)
        return found[0].status if found else None

    async def cancel(self, redemption_id: str, at: datetime) -> None:
        line, batch_id = self.state.lines[redemption_id]
        self.state.lines[redemption_id] = (replace(line, status=LineStatus.CANCELLED), batch_id)

    async def of(self, affiliate_id: str, campaign_id: str | None) -> list[tuple[StatementLine, str | None]]:
        return sorted(((line, b) for line, b in self.state.lines.values() if line.affiliate_id == affiliate_id
                       and campaign_id in (None, line.campaign_id)),
                      key=lambda item: (item[0].redeemed_at, item[0].redemption_id))

    async def campaigns_waiting(self) -> list[str]:
        return sorted({line.campaign_id for line, _ in self.state.lines.values()
                       if line.status is LineStatus.PENDING and line.campaign_id in self.state.campaigns})

    async def pending(self, campaign_id: str) -> list[StatementLine]:
        return [line for line, _ in self.state.lines.values()
                if line.campaign_id == campaign_id and line.status is LineStatus.PENDING]

    async def payees(self, affiliate_ids: list[str]) -> dict[str, Payee]:
        return {a.affiliate_id: Payee(a.affiliate_id, a.name, a.organisation.siret, a.organisation.iban, a.bic)
                for a in self.state.affiliates.values() if a.affiliate_id in affiliate_ids}


class FakeBatches(InMemoryRepository):
    async def add(self, batch: Batch, files: BatchFiles, created_by: str, redemption_ids: list[str]) -> None:
        self.state.batches[batch.batch_id] = (batch, files)
        for redemption_id in redemption_ids:
            line, _ = self.state.lines[redemption_id]
            self.state.lines[redemption_id] = (replace(line, status=LineStatus.BATCHED), batch.batch_id)

    async def get(self, batch_id: str, *, for_update: bool = False) -> Batch | None:
        found = self.state.batches.get(batch_id)
        if found is None:
            return None
        contacts = {a.affiliate_id: a.contact_email for a in self.state.affiliates.values()}
        batch = found[0]
        return replace(batch, transfers=tuple(replace(t, contact_email=contacts[t.affiliate_id])
                                              for t in batch.transfers))

    async def files(self, batch_id: str) -> BatchFiles | None:
        found = self.state.batches.get(batch_id)
        return found[1] if found else None

    async def count_by_status(self, campaign_id: str | None) -> dict[BatchStatus, int]:
        counts: dict[BatchStatus, int] = {}
        for batch, _ in self.state.batches.values():
            if campaign_id in (None, batch.campaign_id):
                counts[batch.status] = counts.get(batch.status, 0) + 1
        return counts

    async def redemption_ids(self, batch_id: str) -> list[str]:
        return sorted(r for r, (_, b) in self.state.lines.items() if b == batch_id)

    async def mark_paid(self, batch_id: str, now: datetime) -> None:
        batch, files = self.state.batches[batch_id]
        self.state.batches[batch_id] = (replace(batch, status=BatchStatus.PAID, paid_at=now), files)
        for redemption_id, (line, b) in list(self.state.lines.items()):
            if b == batch_id and line.status is LineStatus.BATCHED:
                self.state.lines[redemption_id] = (replace(line, status=LineStatus.PAID), b)


class FakeAffiliationUnitOfWork(InMemoryUnitOfWork):
    affiliates: FakeAffiliates
    audit: FakeAudit
    iban_changes: FakeIbanChanges
    tokens: FakeTokens
    login_failures: FakeLoginFailures
    campaigns: FakeCampaigns
    assigned_tickets: FakeAssignedTickets
    statements: FakeStatements
    batches: FakeBatches

    def __init__(self, data: Data | None = None) -> None:
        super().__init__(data or Data())

    @property
    def data(self) -> Data:
        return self.state


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
