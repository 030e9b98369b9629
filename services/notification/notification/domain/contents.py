"""What a message says: one kind of content per template, each rendered by the template of the same name."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, fields, replace
from datetime import date, datetime
from enum import StrEnum
from typing import ClassVar, Literal

from carnet_contracts.calendar import paris_day


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
    CORRESPONDENT_DIGEST = "correspondent_digest"
    TICKET_REDEEMED = "ticket_redeemed"
    PASS_EXPIRY_REMINDER = "pass_expiry_reminder"
    TICKET_REPLACE_REFUSED = "ticket_replace_refused"
    REDEMPTION_CANCELLED = "redemption_cancelled"
    AFFILIATE_CONTACT_CHANGED = "affiliate_contact_changed"
    IBAN_CHANGE_OTP = "iban_change_otp"
    AFFILIATE_IBAN_CHANGED = "affiliate_iban_changed"


class Reader(StrEnum):
    """Whom a template writes to."""

    GUARDIAN = "guardian"
    CORRESPONDENT = "correspondent"
    AFFILIATE = "affiliate"
    AUDIENCE = "audience"  # a broadcast: whoever its audience is


READERS: dict[Template, Reader] = {
    Template.APPLICATION_RECEIVED: Reader.GUARDIAN,
    Template.WALLET_READY: Reader.GUARDIAN,
    Template.APPLICATION_REJECTED: Reader.GUARDIAN,
    Template.TICKETS_SHEET: Reader.GUARDIAN,
    Template.TICKET_REDEEMED: Reader.GUARDIAN,
    Template.PASS_EXPIRY_REMINDER: Reader.GUARDIAN,
    Template.TICKET_REPLACE_REFUSED: Reader.GUARDIAN,
    Template.CORRESPONDENT_DIGEST: Reader.CORRESPONDENT,
    Template.AFFILIATE_INVITATION: Reader.AFFILIATE,
    Template.CONVENTION_OTP: Reader.AFFILIATE,
    Template.CONVENTION_SIGNED: Reader.AFFILIATE,
    Template.PASSWORD_RESET: Reader.AFFILIATE,
    Template.REIMBURSEMENT_PAID: Reader.AFFILIATE,
    Template.AFFILIATE_LOGIN_REMINDER: Reader.AFFILIATE,
    Template.REDEMPTION_CANCELLED: Reader.AFFILIATE,
    Template.AFFILIATE_CONTACT_CHANGED: Reader.AFFILIATE,
    Template.IBAN_CHANGE_OTP: Reader.AFFILIATE,
    Template.AFFILIATE_IBAN_CHANGED: Reader.AFFILIATE,
    Template.BROADCAST: Reader.AUDIENCE,
}

_FAMILY = frozenset({"guardian_first_name", "guardian_last_name", "student_first_name", "student_last_name"})

# What a personal value becomes in the subject a message keeps after a purge or an erasure.
MASK = "[effacé]"


@dataclass(frozen=True)
class RenderedMessage:
    """A message as its reader sees it: one-line subject, plain text, HTML."""

    subject: str
    text: str
    html: str


@dataclass(frozen=True, kw_only=True)
class Content:
    """What one message tells its reader; each kind is rendered by the template of the same name."""

    template: ClassVar[Template]
    # The fields that name or address a person (a pupil, a guardian, a contact) or were written about
    # one: masked in the subject a message keeps once its personal data is erased.
    personal: ClassVar[frozenset[str]] = frozenset()

    def variables(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def impersonal(self) -> Content:
        """The same content with every personal field masked (for the subject the log keeps)."""
        return replace(self, **{name: MASK for name in self.personal})


@dataclass(frozen=True, kw_only=True)
class ApplicationReceived(Content):
    template: ClassVar[Template] = Template.APPLICATION_RECEIVED
    personal: ClassVar[frozenset[str]] = _FAMILY
    guardian_first_name: str
    guardian_last_name: str
    student_first_name: str
    student_last_name: str
    campaign_label: str | None = None


@dataclass(frozen=True, kw_only=True)
class WalletReady(Content):
    template: ClassVar[Template] = Template.WALLET_READY
    personal: ClassVar[frozenset[str]] = _FAMILY
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
    personal: ClassVar[frozenset[str]] = _FAMILY | {"reason"}
    guardian_first_name: str
    guardian_last_name: str
    student_first_name: str
    reason: str
    student_last_name: str | None = None


@dataclass(frozen=True, kw_only=True)
class TicketsSheet(Content):
    template: ClassVar[Template] = Template.TICKETS_SHEET
    personal: ClassVar[frozenset[str]] = frozenset({"student_first_name", "student_last_name"})
    positions: tuple[int, ...]
    student_first_name: str | None = None
    student_last_name: str | None = None
    pass_valid_until: date | None = None
    # the new sheet after a lost ticket was replaced: the old ticket no longer works
    replaced: bool = False


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


@dataclass(frozen=True)
class WaitingLine:
    """One file waiting for the correspondent, as the digest lists it."""

    student_last_name: str
    student_first_name: str
    channel: str  # online | paper
    submitted_on: date  # Paris day
    waiting_days: int


def waiting_days(since: datetime, at: datetime) -> int:
    """How many Paris days a file has been waiting at `at` (0 on the day it was sent)."""
    return max(0, (paris_day(at) - paris_day(since)).days)


@dataclass(frozen=True, kw_only=True)
class CorrespondentDigest(Content):
    template: ClassVar[Template] = Template.CORRESPONDENT_DIGEST
    personal: ClassVar[frozenset[str]] = frozenset({"waiting"})
    school_name: str
    total_waiting: int
    waiting: tuple[WaitingLine, ...]  # oldest first (at most what the event listed)
    oldest_waiting_days: int


@dataclass(frozen=True, kw_only=True)
class TicketRedeemed(Content):
    template: ClassVar[Template] = Template.TICKET_REDEEMED
    personal: ClassVar[frozenset[str]] = frozenset({"student_first_name"})
    student_first_name: str | None
    affiliate_name: str | None
    amount_cents: int
    redeemed_at: datetime
    code_suffix: str | None = None


@dataclass(frozen=True, kw_only=True)
class PassExpiryReminder(Content):
    template: ClassVar[Template] = Template.PASS_EXPIRY_REMINDER
    personal: ClassVar[frozenset[str]] = frozenset({"student_first_name"})
    student_first_name: str
    valid_until: date
    credited_unspent_cents: int
    remaining_cents: int  # allowance not on any ticket yet


@dataclass(frozen=True, kw_only=True)
class TicketReplaceRefused(Content):
    template: ClassVar[Template] = Template.TICKET_REPLACE_REFUSED
    personal: ClassVar[frozenset[str]] = frozenset({"student_first_name"})
    student_first_name: str | None
    affiliate_name: str | None = None
    redeemed_at: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class RedemptionCancelled(Content):
    template: ClassVar[Template] = Template.REDEMPTION_CANCELLED
    personal: ClassVar[frozenset[str]] = frozenset({"reason"})  # staff's words, may name the family
    affiliate_name: str | None
    amount_cents: int
    reason: str | None
    then: Literal["redeemable", "void"]
    cancelled_at: datetime


@dataclass(frozen=True, kw_only=True)
class AffiliateContactChanged(Content):
    template: ClassVar[Template] = Template.AFFILIATE_CONTACT_CHANGED
    personal: ClassVar[frozenset[str]] = frozenset({"new_contact_email"})
    affiliate_name: str | None
    new_contact_email: str
    changed_at: datetime


@dataclass(frozen=True, kw_only=True)
class IbanChangeOtp(Content):
    template: ClassVar[Template] = Template.IBAN_CHANGE_OTP
    affiliate_name: str | None
    otp: str  # the placeholder in what is stored; the code only in the e-mail
    new_iban_suffix: str
    expires_at: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class AffiliateIbanChanged(Content):
    template: ClassVar[Template] = Template.AFFILIATE_IBAN_CHANGED
    affiliate_name: str | None
    iban_suffix: str
    changed_at: datetime


@dataclass(frozen=True)
class WalletReadiness:
    """PassGranted and WalletCreated come on two topics in any order: the family is told its wallet is
    ready once both halves are in, under the key of the WalletCreated event."""

    application_id: str
    campaign_id: str | None
    recipient: str | None = None
    granted: WalletReady | None = None  # PassGranted's half
    wallet_event_id: uuid.UUID | None = None  # WalletCreated's half

    @property
    def complete(self) -> bool:
        return self.granted is not None and self.recipient is not None and self.wallet_event_id is not None
