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
    Accepted,
    AttemptOutcome,
    Attempt,
    Audience,
    Broadcast,
    BroadcastPlan,
    BroadcastStatus,
    Campaign,
    Delivery,
    Message,
    MessageState,
    NewMessage,
    WalletReadiness,
    WalletReady,
)


QUEUED_FROM = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class StoredMessage:
    message: Message
    event_id: uuid.UUID
    forget_at: datetime
    lease_until: datetime | None = None


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
                secret=new.secret,
            ),
            new.event_id, new.forget_at,
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
        self.families: dict[str, tuple[str, str, datetime]] = {}  # application -> campaign, email, forget_at
        self.correspondents: dict[str, str] = {}
        self.affiliates: dict[str, dict] = {}

    async def remember_family(self, application_id: str, campaign_id: str, email: str, forget_at: datetime) -> None:
        kept = self.families.get(application_id)
        self.families[application_id] = (campaign_id, email, kept[2] if kept else forget_at)

    async def remember_correspondent(self, school_id: str, email: str | None) -> None:
        if email is None:
            self.correspondents.pop(school_id, None)
        else:
            self.correspondents[school_id] = email

    async def remember_affiliate(self, affiliate_id: str, name: str | None, email: str) -> None:
        known = self.affiliates.setdefault(affiliate_id, {"name": None, "suspended": False})
        known.update(email=email, name=name or known["name"])

    async def set_affiliate_suspended(self, affiliate_id: str, suspended: bool) -> None:
        if affiliate_id in self.affiliates:
            self.affiliates[affiliate_id]["suspended"] = suspended

    async def audience(self, audience: Audience) -> list[str]:
        if audience is Audience.FAMILIES:
            return [email for _, (_, email, _) in sorted(self.families.items())]
        if audience is Audience.AFFILIATES:
            return [a["email"] for _, a in sorted(self.affiliates.items()) if not a["suspended"]]
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
        for application_id, (campaign, email, _) in list(self._people.families.items()):
            if campaign == campaign_id:
                self._people.families[application_id] = (campaign, email, forget_at)

    async def forget_due(self, now: datetime) -> int:
        erased = 0
        for row in self._messages.rows.values():
            if row.forget_at <= now and row.message.forgotten_at is None:
                row.message = replace(row.message, recipient=None, subject=None, text=None, html=None,
                                      attachment=None, secret=None, forgotten_at=now)
                erased += 1
        self._people.families = {a: f for a, f in self._people.families.items() if f[2] > now}
        return erased


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
        self.asked: list[tuple[str, tuple[int, ...]]] = []

    async def fetch(self, wallet_id: str, positions: tuple[int, ...]) -> bytes | AttemptOutcome:
        self.asked.append((wallet_id, positions))
        return self.answer
