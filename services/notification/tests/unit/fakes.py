"""An in-memory unit of work for the application services (cosmicpython's FakeUnitOfWork): dict-backed
repositories with the methods of notification.store's, a rollback that restores them, and `published`
holding every event of the blocks that ended well."""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

from carnet_runtime import UnitOfWork
from notification.domain import (
    ERASED,
    FORGOTTEN,
    PURGED,
    About,
    Accepted,
    AttemptOutcome,
    Attempt,
    Audience,
    Broadcast,
    BroadcastPlan,
    BroadcastStatus,
    Campaign,
    Delivery,
    FamilyCopy,
    KeptCopy,
    KeptMessage,
    Message,
    MessageFigures,
    MessageState,
    NewMessage,
    Person,
    SheetRequest,
    WalletCopy,
    WalletReadiness,
    WalletReady,
)


QUEUED_FROM = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class StoredMessage:
    message: Message
    event_id: uuid.UUID
    forget_at: datetime
    impersonal_subject: str | None = None
    lease_until: datetime | None = None

    def anonymise(self, now: datetime, reason: str) -> None:
        """What the store's ANONYMISED does."""
        d = self.message.delivery
        unsent = d.state in (MessageState.PENDING, MessageState.SENDING)
        self.message = replace(
            self.message, recipient=None, subject=self.impersonal_subject, text=None, html=None, attachment=None,
            secret=None, about=About(), forgotten_at=now, failed_at=now if unsent else self.message.failed_at,
            delivery=replace(d, state=MessageState.FAILED, last_error=reason) if unsent else d,
        )
        self.lease_until = None


class FakeMessages:
    def __init__(self) -> None:
        self.rows: dict[uuid.UUID, StoredMessage] = {}

    async def add(self, new: NewMessage) -> bool:
        if any(r.event_id == new.event_id and r.message.template is new.template for r in self.rows.values()):
            return False
        now = QUEUED_FROM + timedelta(seconds=len(self.rows))  # in order of queueing, due at once
        self.rows[new.message_id] = StoredMessage(
            Message(
                message_id=new.message_id, template=new.template, recipient=new.recipient,
                subject=new.rendered.subject, text=new.rendered.text, html=new.rendered.html,
                delivery=Delivery(next_attempt_at=new.not_before or now), created_at=now,
                campaign_id=new.campaign_id, source_event_id=new.source_event_id, attachment=new.attachment,
                secret=new.secret, about=new.about,
            ),
            new.event_id, new.forget_at, new.impersonal_subject,
        )
        return True

    async def claim_due(self, now: datetime, limit: int, lease: timedelta) -> list[Message]:
        claimed = []
        for row in sorted(self.rows.values(), key=lambda r: r.message.delivery.next_attempt_at):
            d = row.message.delivery
            abandoned = d.state is MessageState.SENDING and row.lease_until is not None and row.lease_until < now
            if len(claimed) < limit and (d.is_due(now) or abandoned):
                started = replace(d, state=MessageState.SENDING, attempts=d.attempts + 1,
                                  first_attempt_at=d.first_attempt_at or now, last_attempt_at=now)
                row.message, row.lease_until = replace(row.message, delivery=started), now + lease
                claimed.append(row.message)
        return claimed

    async def conclude(self, message_id: uuid.UUID, delivery: Delivery, now: datetime, *,
                       forget_secret: bool) -> bool:
        row = self.rows[message_id]
        current = row.message.delivery
        if current.state is not MessageState.SENDING or current.attempts != delivery.attempts:
            return False
        outcome = {MessageState.SENT: "sent", MessageState.FAILED: "failed", MessageState.PENDING: "retry"}
        attempt = Attempt(delivery.attempts, now, outcome[delivery.state],
                          None if delivery.state is MessageState.SENT else delivery.last_error)
        row.message = replace(
            row.message,
            delivery=replace(delivery, next_attempt_at=delivery.next_attempt_at or current.next_attempt_at),
            failed_at=now if delivery.state is MessageState.FAILED else None,
            secret=None if forget_secret else row.message.secret,
            log=(*row.message.log, attempt),
        )
        row.lease_until = None
        return True

    async def list(self, recipient: str | None, limit: int, before: datetime | None) -> list[Message]:
        found = [r.message for r in self.rows.values()
                 if (recipient is None or r.message.recipient == recipient)
                 and (before is None or r.message.created_at < before)]
        return sorted(found, key=lambda m: m.created_at, reverse=True)[:limit]

    async def count_by_state(self) -> dict[MessageState, int]:
        counts: dict[MessageState, int] = {}
        for row in self.rows.values():
            counts[row.message.delivery.state] = counts.get(row.message.delivery.state, 0) + 1
        return counts

    def all(self) -> list[Message]:
        return [r.message for r in self.rows.values()]


class FakeBroadcasts:
    def __init__(self, messages: FakeMessages) -> None:
        self.rows: dict[uuid.UUID, Broadcast] = {}
        self._messages = messages

    async def add(self, broadcast_id: uuid.UUID, plan: BroadcastPlan, requested_by: str) -> Broadcast:
        self.rows[broadcast_id] = Broadcast(
            broadcast_id=broadcast_id, audience=plan.audience, subject=plan.subject, body=plan.body,
            send_at=plan.send_at, status=BroadcastStatus.SCHEDULED, created_at=QUEUED_FROM,
        )
        return self.rows[broadcast_id]

    async def claim_due(self, now: datetime, limit: int = 5) -> list[Broadcast]:
        due = [b for b in self.rows.values() if b.status is BroadcastStatus.SCHEDULED and b.send_at <= now]
        return sorted(due, key=lambda b: b.send_at)[:limit]

    async def mark_expanded(self, broadcast_id: uuid.UUID, count: int, now: datetime) -> None:
        self.rows[broadcast_id] = replace(self.rows[broadcast_id], status=BroadcastStatus.EXPANDED,
                                          recipient_count=count, expanded_at=now)

    async def get(self, broadcast_id: uuid.UUID) -> Broadcast | None:
        broadcast = self.rows.get(broadcast_id)
        if broadcast is None:
            return None
        counts: dict[str, int] = {}
        for m in self._messages.all():
            if m.source_event_id == broadcast_id:
                counts[m.delivery.state.value] = counts.get(m.delivery.state.value, 0) + 1
        return replace(broadcast, messages_by_state=counts)


class FakeCampaigns:
    def __init__(self) -> None:
        self.rows: dict[str, Campaign] = {}

    async def save(self, campaign: Campaign) -> None:
        self.rows[campaign.campaign_id] = campaign

    async def get(self, campaign_id: str | None) -> Campaign | None:
        return self.rows.get(campaign_id) if campaign_id else None


class FakeAddressBook:
    def __init__(self) -> None:
        self.families: dict[str, tuple[FamilyCopy, datetime]] = {}  # application -> copy, forget_at
        self.wallets: dict[str, tuple[WalletCopy, datetime]] = {}
        self.correspondents: dict[str, str] = {}
        self.affiliates: dict[str, dict] = {}

    async def remember_family(self, family: FamilyCopy, forget_at: datetime) -> None:
        kept = self.families.get(family.application_id)
        if kept:
            family = replace(family, family_sub=family.family_sub or kept[0].family_sub)
        self.families[family.application_id] = (family, kept[1] if kept else forget_at)

    async def family_subs_of(self, application_ids: list[str]) -> list[str]:
        return sorted({f.family_sub for a, (f, _) in self.families.items() if a in application_ids and f.family_sub})

    async def campaign_of_applications(self, application_ids: list[str]) -> str | None:
        return next((f.campaign_id for a, (f, _) in self.families.items() if a in application_ids), None)

    async def remember_wallet(self, wallet: WalletCopy, forget_at: datetime) -> None:
        kept = self.wallets.get(wallet.wallet_id)
        self.wallets[wallet.wallet_id] = (wallet, kept[1] if kept else forget_at)

    async def wallet(self, wallet_id: str) -> WalletCopy | None:
        kept = self.wallets.get(wallet_id)
        return kept[0] if kept else None

    async def wallet_of_application(self, application_id: str) -> WalletCopy | None:
        return next((w for w, _ in self.wallets.values() if w.application_id == application_id), None)

    async def remember_correspondent(self, school_id: str, email: str | None) -> None:
        if email is None:
            self.correspondents.pop(school_id, None)
        else:
            self.correspondents[school_id] = email

    async def remember_affiliate(self, affiliate_id: str, name: str | None, email: str) -> None:
        known = self.affiliates.setdefault(affiliate_id, {"name": None, "suspended": False})
        known.update(email=email, name=name or known["name"])

    async def affiliate_activated(self, affiliate_id: str, name: str) -> None:
        known = self.affiliates.setdefault(affiliate_id, {"email": None})
        known.update(name=name, suspended=False)

    async def affiliate_suspended(self, affiliate_id: str) -> None:
        if affiliate_id in self.affiliates:
            self.affiliates[affiliate_id]["suspended"] = True

    async def affiliate(self, affiliate_id: str | None) -> tuple[str | None, str | None]:
        known = self.affiliates.get(affiliate_id or "")
        return (known["name"], known["email"]) if known else (None, None)

    async def audience(self, audience: Audience) -> list[str]:
        if audience is Audience.FAMILIES:
            return [f.guardian_email for _, (f, _) in sorted(self.families.items())]
        if audience is Audience.AFFILIATES:
            return [a["email"] for _, a in sorted(self.affiliates.items()) if not a["suspended"] and a["email"]]
        return [email for _, email in sorted(self.correspondents.items())]


class FakeReadiness:
    def __init__(self) -> None:
        self.rows: dict[str, WalletReadiness] = {}

    async def record_grant(self, application_id: str, campaign_id: str, granted: WalletReady, recipient: str,
                           granted_event_id: uuid.UUID, forget_at: datetime) -> WalletReadiness:
        known = self.rows.get(application_id) or WalletReadiness(application_id, campaign_id)
        self.rows[application_id] = replace(known, campaign_id=campaign_id, granted=granted, recipient=recipient)
        return self.rows[application_id]

    async def record_wallet(self, application_id: str, campaign_id: str, wallet_event_id: uuid.UUID,
                            forget_at: datetime) -> WalletReadiness:
        known = self.rows.get(application_id) or WalletReadiness(application_id, campaign_id)
        self.rows[application_id] = replace(known, wallet_event_id=wallet_event_id)
        return self.rows[application_id]


class FakeRetention:
    def __init__(self, messages: FakeMessages, people: FakeAddressBook) -> None:
        self._messages = messages
        self._people = people

    async def reschedule(self, campaign_id: str, forget_at: datetime) -> None:
        for row in self._messages.rows.values():
            if row.message.campaign_id == campaign_id and row.message.forgotten_at is None:
                row.forget_at = forget_at
        for copies in (self._people.families, self._people.wallets):
            for key, (copy_, _) in list(copies.items()):
                if copy_.campaign_id == campaign_id:
                    copies[key] = (copy_, forget_at)

    async def forget_due(self, now: datetime) -> int:
        erased = 0
        for row in self._messages.rows.values():
            if row.forget_at <= now and row.message.forgotten_at is None:
                row.anonymise(now, FORGOTTEN)
                erased += 1
        self._people.families = {a: f for a, f in self._people.families.items() if f[1] > now}
        self._people.wallets = {w: c for w, c in self._people.wallets.items() if c[1] > now}
        return erased


class FakePrivacy:
    """The store's PrivacyRepository, on the other fakes' data."""

    def __init__(self, messages: FakeMessages, people: FakeAddressBook, readiness: FakeReadiness) -> None:
        self._messages = messages
        self._people = people
        self._readiness = readiness

    async def purge_campaign(self, campaign_id: str, now: datetime) -> int:
        applications = {a for a, (f, _) in self._people.families.items() if f.campaign_id == campaign_id}
        wallets = {w for w, (c, _) in self._people.wallets.items() if c.campaign_id == campaign_id}
        anonymised = 0
        for row in self._messages.rows.values():
            m = row.message
            if m.forgotten_at is None and (m.campaign_id == campaign_id or applications & set(m.about.application_ids)
                                           or wallets & set(m.about.wallet_ids)):
                row.anonymise(now, PURGED)
                anonymised += 1
        self._people.families = {a: f for a, f in self._people.families.items() if f[0].campaign_id != campaign_id}
        self._people.wallets = {w: c for w, c in self._people.wallets.items() if c[0].campaign_id != campaign_id}
        self._readiness.rows = {a: r for a, r in self._readiness.rows.items() if r.campaign_id != campaign_id}
        return anonymised

    async def erase(self, about: About, now: datetime) -> int:
        apps, wallets, subs = set(about.application_ids), set(about.wallet_ids), set(about.family_subs)
        emails = {f.guardian_email for f, _ in self._people.families.values()
                  if f.application_id in apps or f.family_sub in subs}
        emails |= {w.guardian_email for w, _ in self._people.wallets.values()
                   if w.wallet_id in wallets or w.application_id in apps or w.family_sub in subs}
        emails |= {r.recipient for a, r in self._readiness.rows.items() if a in apps and r.recipient}
        erased = 0
        for row in self._messages.rows.values():
            m = row.message
            if m.forgotten_at is None and (apps & set(m.about.application_ids) or wallets & set(m.about.wallet_ids)
                                           or subs & set(m.about.family_subs) or m.recipient in emails):
                row.anonymise(now, ERASED)
                erased += 1
        self._people.families = {a: (f, t) for a, (f, t) in self._people.families.items()
                                 if not (a in apps or f.family_sub in subs or f.guardian_email in emails)}
        self._people.wallets = {w: (c, t) for w, (c, t) in self._people.wallets.items()
                                if not (w in wallets or c.application_id in apps or c.family_sub in subs
                                        or c.guardian_email in emails)}
        self._readiness.rows = {a: r for a, r in self._readiness.rows.items()
                                if a not in apps and r.recipient not in emails}
        return erased

    async def person(self, *, family_sub: str | None = None, email: str | None = None) -> Person:
        families = [f for f, _ in self._people.families.values()
                    if (family_sub and f.family_sub == family_sub) or (email and f.guardian_email == email)]
        wallets = [w for w, _ in self._people.wallets.values()
                   if (family_sub and w.family_sub == family_sub) or (email and w.guardian_email == email)]
        about = About.of([*(f.application_id for f in families), *(w.application_id for w in wallets)],
                         [w.wallet_id for w in wallets],
                         [family_sub, *(f.family_sub for f in families), *(w.family_sub for w in wallets)])
        emails = dict.fromkeys([*([email] if email else []), *(f.guardian_email for f in families),
                                *(w.guardian_email for w in wallets)])
        return Person(tuple(emails), about.application_ids, about.wallet_ids, about.family_subs)

    async def messages_of(self, person: Person) -> list[KeptMessage]:
        found = []
        for row in self._messages.rows.values():
            m = row.message
            if (m.recipient in person.emails or set(m.about.application_ids) & set(person.application_ids)
                    or set(m.about.wallet_ids) & set(person.wallet_ids)
                    or set(m.about.family_subs) & set(person.family_subs)):
                found.append(KeptMessage(
                    message_id=str(m.message_id), template=m.template, recipient=m.recipient, subject=m.subject,
                    impersonal_subject=row.impersonal_subject, text=m.text, state=m.delivery.state.value,
                    attempts=m.delivery.attempts, created_at=m.created_at, sent_at=m.delivery.sent_at,
                    failed_at=m.failed_at, campaign_id=m.campaign_id, about=m.about,
                ))
        return sorted(found, key=lambda k: k.created_at)

    async def copies_of(self, person: Person) -> list[KeptCopy]:
        return [
            *(KeptCopy("application", f.application_id, f.campaign_id, f.guardian_email)
              for f, _ in self._people.families.values()
              if f.application_id in person.application_ids or f.guardian_email in person.emails),
            *(KeptCopy("wallet", w.wallet_id, w.campaign_id, w.guardian_email,
                       {"student_first_name": w.student_first_name})
              for w, _ in self._people.wallets.values()
              if w.wallet_id in person.wallet_ids or w.guardian_email in person.emails),
        ]

    async def figures(self, campaign_id: str | None) -> MessageFigures:
        by_template: dict[str, dict[str, int]] = {}
        attempts = 0
        for m in self._messages.all():
            if campaign_id is None or m.campaign_id == campaign_id:
                states = by_template.setdefault(m.template.value, {})
                states[m.delivery.state.value] = states.get(m.delivery.state.value, 0) + 1
                attempts += m.delivery.attempts
        return MessageFigures(campaign_id, by_template, attempts)


def _data(repository: object) -> dict:
    """A fake repository's own data (not its links to the others)."""
    return {k: v for k, v in vars(repository).items() if not k.startswith("_")}


class FakeNotificationUnitOfWork(UnitOfWork):
    def __init__(self) -> None:
        super().__init__()
        self.messages = FakeMessages()
        self.broadcasts = FakeBroadcasts(self.messages)
        self.campaigns = FakeCampaigns()
        self.people = FakeAddressBook()
        self.readiness = FakeReadiness()
        self.retention = FakeRetention(self.messages, self.people)
        self.privacy = FakePrivacy(self.messages, self.people, self.readiness)
        self.commits = 0

    _STATE = ("messages", "broadcasts", "campaigns", "people", "readiness")

    async def __aenter__(self) -> FakeNotificationUnitOfWork:
        self._saved = {name: copy.deepcopy(_data(getattr(self, name))) for name in self._STATE}
        self._published_before = len(self.published)
        return self

    async def __aexit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.commits += 1
            return
        for name, saved in self._saved.items():  # rollback: the repositories as they were, no event
            vars(getattr(self, name)).update(saved)
        del self.published[self._published_before:]

    def __call__(self) -> FakeNotificationUnitOfWork:
        """The unit of work factory the delivery worker takes: always this one."""
        return self


class FakeMailer:
    """Answers each send with the next outcome given (Accepted when none is left) and keeps what it got."""

    def __init__(self, *outcomes: AttemptOutcome) -> None:
        self.outcomes = list(outcomes)
        self.sent: list[tuple[EmailMessage, str]] = []

    async def send(self, mail: EmailMessage, recipient: str) -> AttemptOutcome:
        outcome = self.outcomes.pop(0) if self.outcomes else Accepted()
        if isinstance(outcome, Accepted):
            self.sent.append((mail, recipient))
        return outcome


class FakeSheets:
    def __init__(self, answer: bytes | AttemptOutcome = b"%PDF-1.4 sheet") -> None:
        self.answer = answer
        self.asked: list[SheetRequest] = []

    async def fetch(self, sheet: SheetRequest) -> bytes | AttemptOutcome:
        self.asked.append(sheet)
        return self.answer
