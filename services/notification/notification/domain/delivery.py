"""How a message's delivery goes on: its states, what one attempt can end in, the retry policy,
and the messages themselves as the log keeps them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from .contents import RenderedMessage, Template
from .people import redact
from .secrets import SealedSecret


class MessageState(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


@dataclass(frozen=True)
class Accepted:
    """The SMTP server took the message."""


@dataclass(frozen=True)
class Unreachable:
    """No conversation with the server: refused connection, timeout, dropped line."""

    reason: str


@dataclass(frozen=True)
class Refused:
    """The server answered with an error reply."""

    code: int
    reason: str

    @property
    def permanent(self) -> bool:
        return 500 <= self.code <= 599


@dataclass(frozen=True)
class Impossible:
    """The message cannot be built and never will be (e.g. the wallet refuses the ticket sheet)."""

    reason: str


AttemptOutcome = Accepted | Unreachable | Refused | Impossible


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff: first_delay, then times factor, at most max_delay between attempts;
    after give_up_after since the first attempt a temporary trouble becomes a failure."""

    first_delay: timedelta = timedelta(seconds=10)
    factor: float = 2.0
    max_delay: timedelta = timedelta(minutes=15)
    give_up_after: timedelta = timedelta(days=3)
    jitter: float = 0.1

    def delay(self, attempts: int, spread: float = 0.0) -> timedelta:
        """Wait before the next try, after `attempts` tries; spread in [0, 1) desynchronises
        the replicas that would otherwise all retry at the same instant after an outage."""
        exponent = max(attempts - 1, 0)
        base = self.first_delay.total_seconds() * (self.factor**min(exponent, 64))
        seconds = min(base, self.max_delay.total_seconds())
        return timedelta(seconds=seconds * (1 - self.jitter * spread))


class IllegalTransition(Exception):
    """A delivery step that the message's state does not allow (a bug in the caller)."""


@dataclass(frozen=True)
class Delivery:
    """Where one message stands: its state, how many tries, when the next one is due."""

    state: MessageState = MessageState.PENDING
    attempts: int = 0
    next_attempt_at: datetime | None = None
    first_attempt_at: datetime | None = None
    last_attempt_at: datetime | None = None
    sent_at: datetime | None = None
    last_error: str | None = None

    @property
    def is_final(self) -> bool:
        """Sent, or failed for good: no attempt will follow."""
        return self.state in (MessageState.SENT, MessageState.FAILED)

    def is_due(self, now: datetime) -> bool:
        return self.state is MessageState.PENDING and (
            self.next_attempt_at is None or self.next_attempt_at <= now
        )

    def start(self, now: datetime) -> Delivery:
        if not self.is_due(now):
            raise IllegalTransition(f"cannot send a {self.state} message now")
        return replace(
            self,
            state=MessageState.SENDING,
            attempts=self.attempts + 1,
            first_attempt_at=self.first_attempt_at or now,
            last_attempt_at=now,
        )

    def conclude(
        self, outcome: AttemptOutcome, now: datetime, policy: RetryPolicy, spread: float = 0.0
    ) -> Delivery:
        if self.state is not MessageState.SENDING:
            raise IllegalTransition(f"no attempt in progress for a {self.state} message")
        if isinstance(outcome, Accepted):
            return replace(self, state=MessageState.SENT, sent_at=now, next_attempt_at=None)
        if isinstance(outcome, Impossible):
            return replace(
                self,
                state=MessageState.FAILED,
                last_error=redact(outcome.reason),
                next_attempt_at=None,
            )
        if isinstance(outcome, Refused):
            reason = redact(f"{outcome.code} {outcome.reason}".strip())
            if outcome.permanent:
                return replace(
                    self, state=MessageState.FAILED, last_error=reason, next_attempt_at=None
                )
        else:
            reason = redact(f"serveur injoignable : {outcome.reason}")
        first = self.first_attempt_at or now
        if now - first >= policy.give_up_after:
            return replace(
                self,
                state=MessageState.FAILED,
                last_error=f"abandon après {self.attempts} tentatives : {reason}",
                next_attempt_at=None,
            )
        return replace(
            self,
            state=MessageState.PENDING,
            last_error=reason,
            next_attempt_at=now + policy.delay(self.attempts, spread),
        )



# --- Messages --------------------------------------------------------------------------------

_MESSAGE_NAMESPACE = uuid.UUID("6b1f6a52-4c2e-4a57-9d1c-2f0e5c6a7b11")


def message_id_for(event_id: uuid.UUID, template: Template) -> uuid.UUID:
    """Deterministic: the same (event, template) is the same message, wherever it is computed."""
    return uuid.uuid5(_MESSAGE_NAMESPACE, f"{event_id}:{template.value}")


@dataclass(frozen=True)
class SheetRequest:
    """A ticket sheet to attach, fetched from the wallet at send time (never stored here)."""

    wallet_id: str
    positions: tuple[int, ...]
    filename: str = "tickets.pdf"


@dataclass(frozen=True)
class NewMessage:
    """A message to queue, once per (event_id, template)."""

    event_id: uuid.UUID
    template: Template
    recipient: str
    rendered: RenderedMessage  # with a secret's placeholder, never the secret
    forget_at: datetime
    campaign_id: str | None = None
    source_event_id: uuid.UUID | None = None
    attachment: SheetRequest | None = None
    secret: SealedSecret | None = None
    not_before: datetime | None = None  # now when None

    @property
    def message_id(self) -> uuid.UUID:
        return message_id_for(self.event_id, self.template)


@dataclass(frozen=True)
class Attempt:
    """One line of a message's delivery log."""

    attempt: int
    at: datetime
    outcome: str  # sent, retry, failed
    detail: str | None = None


@dataclass(frozen=True)
class Message:
    """A queued or delivered message as stored: its body is the redacted one; recipient, subject and
    body are None once forgotten."""

    message_id: uuid.UUID
    template: Template
    recipient: str | None
    subject: str | None
    text: str | None
    html: str | None
    delivery: Delivery
    created_at: datetime
    campaign_id: str | None = None
    source_event_id: uuid.UUID | None = None
    attachment: SheetRequest | None = None
    secret: SealedSecret | None = None
    failed_at: datetime | None = None
    forgotten_at: datetime | None = None
    log: tuple[Attempt, ...] = ()

    @property
    def rendered(self) -> RenderedMessage | None:
        if self.subject is None or self.text is None or self.html is None:
            return None
        return RenderedMessage(subject=self.subject, text=self.text, html=self.html)
