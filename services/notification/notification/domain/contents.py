"""What a message says: one kind of content per template, each rendered by the template of the same name."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, fields
from datetime import date, datetime
from enum import StrEnum
from typing import ClassVar


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
