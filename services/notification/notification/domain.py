"""The notification service's rules: what each message says, how its delivery goes on, what it
keeps and when it forgets. Plain Python, no I/O: the store, the SMTP worker and the consumers
call these functions and write down what they decide.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, fields, replace
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import ClassVar
from carnet_contracts.calendar import PARIS, end_of_paris_day



class NotificationError(Exception):
    """A refusal: a stable code, a French sentence for a person, details for a program."""

    def __init__(self, code: str, message: str, details: dict | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.message = message
        self.details = details or {}


# --- What a message says -------------------------------------------------------------------


class Template(StrEnum):
    APPLICATION_RECEIVED = "application_received"
    WALLET_READY = "wallet_ready"
    APPLICATION_REJECTED = "application_rejected"
    TICKETS_SHEET = "tickets_sheet"
    AFFILIATE_INVITATION = "affiliate_invitation"
    CONVENTION_OTP = "convention_otp"
    CONVENTION_SIGNED = "convention_signed"
    PASSWORD_RESET = "password_reset"
    REIMBURSEMENT_PAID = "reimbursement_paid"
    AFFILIATE_LOGIN_REMINDER = "affiliate_login_reminder"
    BROADCAST = "broadcast"


@dataclass(frozen=True, kw_only=True)
class Content:
    """What one message tells its reader; each kind is rendered by the template of the same name."""

    template: ClassVar[Template]

    def variables(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True, kw_only=True)
class ApplicationReceived(Content):
    template: ClassVar[Template] = Template.APPLICATION_RECEIVED
    guardian_first_name: str
    guardian_last_name: str
    student_first_name: str
    student_last_name: str
    campaign_label: str | None = None


@dataclass(frozen=True, kw_only=True)
class WalletReady(Content):
    template: ClassVar[Template] = Template.WALLET_READY
    guardian_first_name: str
    guardian_last_name: str
    student_first_name: str
    student_last_name: str
    allowance_cents: int | None = None
    tickets_per_pass: int | None = None
    ticket_min_cents: int | None = None
    ticket_max_cents: int | None = None
    pass_valid_until: date | None = None


@dataclass(frozen=True, kw_only=True)
class ApplicationRejected(Content):
    template: ClassVar[Template] = Template.APPLICATION_REJECTED
    guardian_first_name: str
    guardian_last_name: str
    student_first_name: str
    reason: str
    student_last_name: str | None = None


@dataclass(frozen=True, kw_only=True)
class TicketsSheet(Content):
    template: ClassVar[Template] = Template.TICKETS_SHEET
    positions: tuple[int, ...]
    student_first_name: str | None = None
    student_last_name: str | None = None
    pass_valid_until: date | None = None


@dataclass(frozen=True, kw_only=True)
class AffiliateInvitation(Content):
    template: ClassVar[Template] = Template.AFFILIATE_INVITATION
    affiliate_name: str | None
    login: str
    activation_link: str
    expires_at: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class ConventionOtp(Content):
    template: ClassVar[Template] = Template.CONVENTION_OTP
    affiliate_name: str | None
    otp: str
    expires_at: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class ConventionSigned(Content):
    template: ClassVar[Template] = Template.CONVENTION_SIGNED
    affiliate_name: str | None
    signed_at: datetime | None = None
    convention_version: str | None = None


@dataclass(frozen=True, kw_only=True)
class PasswordReset(Content):
    template: ClassVar[Template] = Template.PASSWORD_RESET
    login: str | None
    reset_link: str
    expires_at: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class ReimbursementPaid(Content):
    template: ClassVar[Template] = Template.REIMBURSEMENT_PAID
    affiliate_name: str | None
    amount_cents: int
    ticket_count: int | None = None
    paid_on: date | None = None


@dataclass(frozen=True, kw_only=True)
class AffiliateLoginReminder(Content):
    template: ClassVar[Template] = Template.AFFILIATE_LOGIN_REMINDER
    affiliate_name: str | None
    login: str
    campaign_label: str | None = None


@dataclass(frozen=True, kw_only=True)
class BroadcastText(Content):
    template: ClassVar[Template] = Template.BROADCAST
    subject: str
    body: str


def link_with_token(base_url: str, token: str) -> str:
    """The one-time link a person clicks: the configured page, ending in ?token=<token>.

    Tokens are URL-safe by construction on the affiliation side; anything else is refused
    rather than silently re-encoded into a link that would not work.
    """
    if not token or not re.fullmatch(r"[A-Za-z0-9_\-.~=]+", token):
        raise NotificationError(
            "TOKEN_NOT_LINKABLE",
            "Le lien d'activation ne peut pas être construit.",
        )
    return f"{base_url.rstrip('?')}?token={token}"


# --- Who receives it -----------------------------------------------------------------------

_ADDRESS = re.compile(r"[^@\s<>,;\"']+@[^@\s<>,;\"']+\.[^@\s<>,;\"']+")


def normalise_recipient(address: str) -> str:
    """One way of writing an address, so that one person gets one copy of a broadcast."""
    cleaned = address.strip()
    if not _ADDRESS.fullmatch(cleaned) or len(cleaned) > 254:
        raise NotificationError(
            "INVALID_RECIPIENT",
            "L'adresse de courriel du destinataire n'est pas valide.",
        )
    return cleaned.lower()


def distinct_recipients(addresses: Iterable[str | None]) -> list[str]:
    """Each valid address once, in first-seen order; unusable addresses are skipped."""
    seen: dict[str, None] = {}
    for address in addresses:
        if not address:
            continue
        try:
            seen.setdefault(normalise_recipient(address), None)
        except NotificationError:
            continue
    return list(seen)


def message_key(event_id: uuid.UUID, part: str | None = None) -> uuid.UUID:
    """The id under which a message is sent once.

    An event that tells one person one thing is its own key; one that fans out (a broadcast,
    a batch paid to many affiliates) derives one stable key per recipient, so that the
    unique (event_id, template) still holds however often the event arrives.
    """
    return event_id if part is None else uuid.uuid5(event_id, part)


_EMAIL_IN_TEXT = re.compile(r"[^@\s<>\"'(),;:]+@[^@\s<>\"'(),;:]+")


def redact(text: str) -> str:
    """An SMTP reply without the addresses it often quotes, fit for logs and events."""
    return _EMAIL_IN_TEXT.sub("[adresse]", text)[:500]


# --- Broadcasts ----------------------------------------------------------------------------


class Audience(StrEnum):
    CORRESPONDENTS = "correspondents"
    FAMILIES = "families"
    AFFILIATES = "affiliates"


SUBJECT_MAX = 200
BODY_MAX = 20_000


@dataclass(frozen=True)
class Broadcast:
    audience: Audience
    subject: str
    body: str
    send_at: datetime


def plan_broadcast(
    audience: str, subject: str, body: str, send_at: datetime | None, now: datetime
) -> Broadcast:
    """A broadcast the staff asked for, checked: a one-line subject, a body, a time (now if absent
    or already past)."""
    problems: dict[str, str] = {}
    try:
        chosen = Audience(audience)
    except ValueError:
        problems["audience"] = "correspondents, families ou affiliates"
    subject = subject.strip()
    if not subject or len(subject) > SUBJECT_MAX or any(c in subject for c in "\r\n"):
        problems["subject"] = f"une ligne de 1 à {SUBJECT_MAX} caractères"
    if not body.strip() or len(body) > BODY_MAX:
        problems["body"] = f"un texte de 1 à {BODY_MAX} caractères"
    if send_at is not None and send_at.tzinfo is None:
        problems["send_at"] = "une date et une heure avec leur fuseau"
    if problems:
        raise NotificationError(
            "VALIDATION_ERROR",
            "Certains champs sont manquants ou invalides : vérifiez la saisie.",
            {"fields": [{"field": f, "problem": p} for f, p in problems.items()]},
        )
    when = now if send_at is None or send_at < now else send_at
    return Broadcast(audience=chosen, subject=subject, body=body.strip(), send_at=when)


# --- Delivery ------------------------------------------------------------------------------


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


# --- Retention -----------------------------------------------------------------------------


def forget_at(
    campaign_ends: date | None,
    created_at: datetime,
    retention_days: int,
    without_campaign_days: int,
) -> datetime:
    """When a message's personal data (recipient, subject, body) must be erased: retention_days
    after the campaign's last Paris day, or, for a message outside any known campaign (an
    affiliate's account lives across campaigns), without_campaign_days after it was created."""
    if campaign_ends is not None:
        return end_of_paris_day(campaign_ends) + timedelta(days=retention_days)
    return created_at + timedelta(days=without_campaign_days)


def campaign_ends(
    pass_valid_until: date | None, reimbursement_deadline: date | None
) -> date | None:
    """The campaign's last day: the later of the passes' validity end and the reimbursements'."""
    days = [d for d in (pass_valid_until, reimbursement_deadline) if d is not None]
    return max(days) if days else None
