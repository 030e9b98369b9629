"""Every event of Carnet, grouped by the topic (and so the service) that owns it.

A schema change within a version is additive (a new optional field); anything else is a
new version with a new class. `contracts/schemas/` holds the exported JSON Schemas and a
test fails when one of them changes incompatibly.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from . import topics
from .envelope import Event, UnknownEvent

Level = Literal["6e", "5e", "4e", "3e"]


class _Part(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Student(_Part):
    last_name: str
    first_name: str
    birth_date: date
    level: str


class Guardian(_Part):
    last_name: str
    first_name: str
    email: str
    phone: str | None = None


# --- enrolment.campaigns -------------------------------------------------------------


class CampaignPublished(Event):
    """A campaign was published or changed; every service keeps its own copy."""

    event_type = "CampaignPublished"
    topic = topics.ENROLMENT_CAMPAIGNS

    campaign_id: str
    label: str
    enrolment_opens: date
    enrolment_closes: date
    pass_valid_until: date
    reimbursement_deadline: date
    allowance_cents: int
    tickets_per_pass: int
    ticket_min_cents: int
    ticket_max_cents: int
    eligible_postcode_prefixes: list[str]
    eligible_levels: list[str]
    redemption_cancel_grace_minutes: int = 30


# --- enrolment.schools -----------------------------------------------------------------


class SchoolRegistered(Event):
    """A school was created or changed."""

    event_type = "SchoolRegistered"
    topic = topics.ENROLMENT_SCHOOLS

    school_id: str
    name: str
    postcode: str
    city: str
    correspondent_email: str | None = None


# --- enrolment.applications ------------------------------------------------------------


class ApplicationSubmitted(Event):
    event_type = "ApplicationSubmitted"
    topic = topics.ENROLMENT_APPLICATIONS

    application_id: str
    campaign_id: str
    school_id: str
    family_sub: str | None = None
    channel: Literal["online", "paper"] = "online"
    student: Student
    guardian: Guardian
    submitted_at: datetime


class PassGranted(Event):
    """The school's correspondent validated the application: the student has a pass.

    Carries everything the wallet and notification services need, so that neither
    asks the enrolment service anything.
    """

    event_type = "PassGranted"
    topic = topics.ENROLMENT_APPLICATIONS

    application_id: str
    campaign_id: str
    campaign_label: str
    school_id: str
    family_sub: str | None = None
    student: Student
    guardian: Guardian
    allowance_cents: int
    tickets_per_pass: int
    ticket_min_cents: int
    ticket_max_cents: int
    pass_valid_until: date
    validated_at: datetime


class ApplicationRejected(Event):
    event_type = "ApplicationRejected"
    topic = topics.ENROLMENT_APPLICATIONS

    application_id: str
    campaign_id: str
    school_id: str
    family_sub: str | None = None
    student_first_name: str
    guardian: Guardian
    reason: str
    rejected_at: datetime


# --- wallet.wallets --------------------------------------------------------------------


class WalletCreated(Event):
    event_type = "WalletCreated"
    topic = topics.WALLET_WALLETS

    wallet_id: str
    application_id: str
    campaign_id: str
    family_sub: str | None = None
    ticket_count: int
    allowance_cents: int
    valid_until: date
    student_first_name: str
    guardian_email: str
    created_at: datetime


class TicketsEmailRequested(Event):
    """The family asked for its tickets by e-mail. No code: the sheet is fetched from the wallet."""

    event_type = "TicketsEmailRequested"
    topic = topics.WALLET_WALLETS

    request_id: str
    wallet_id: str
    campaign_id: str
    positions: list[int]
    guardian_email: str
    student_first_name: str
    requested_at: datetime


# --- wallet.tickets --------------------------------------------------------------------


class TicketCredited(Event):
    """A blank ticket was credited. The code itself never travels: its keyed hash does."""

    event_type = "TicketCredited"
    topic = topics.WALLET_TICKETS

    ticket_id: str
    wallet_id: str
    campaign_id: str
    position: int
    code_hash: str
    code_suffix: str
    amount_cents: int
    affiliate_id: str | None = None
    valid_until: date
    credited_at: datetime


class TicketAssigned(Event):
    """A credited ticket was assigned to an affiliate, or back to none (affiliate_id null)."""

    event_type = "TicketAssigned"
    topic = topics.WALLET_TICKETS

    ticket_id: str
    wallet_id: str
    campaign_id: str
    affiliate_id: str | None = None
    code_suffix: str
    amount_cents: int
    assigned_at: datetime


class TicketVoidRequested(Event):
    """The family asked to void a credited ticket; the redemption service decides."""

    event_type = "TicketVoidRequested"
    topic = topics.WALLET_TICKETS

    ticket_id: str
    wallet_id: str
    campaign_id: str
    requested_at: datetime


# --- redemption.redemptions --------------------------------------------------------------


class TicketRedeemed(Event):
    event_type = "TicketRedeemed"
    topic = topics.REDEMPTION_REDEMPTIONS

    redemption_id: str
    ticket_id: str
    wallet_id: str
    campaign_id: str
    affiliate_id: str
    amount_cents: int
    code_suffix: str
    redeemed_at: datetime


class RedemptionRejected(Event):
    """A scanner's attempt was refused (kept for the counter's statistics, never for the code)."""

    event_type = "RedemptionRejected"
    topic = topics.REDEMPTION_REDEMPTIONS

    ticket_id: str | None = None
    affiliate_id: str
    campaign_id: str | None = None
    reason_code: str
    attempted_at: datetime

    def key(self) -> str:
        return self.ticket_id or self.affiliate_id


class RedemptionCancelled(Event):
    event_type = "RedemptionCancelled"
    topic = topics.REDEMPTION_REDEMPTIONS

    redemption_id: str
    ticket_id: str
    wallet_id: str
    campaign_id: str
    affiliate_id: str
    amount_cents: int
    cancelled_at: datetime


class TicketVoided(Event):
    event_type = "TicketVoided"
    topic = topics.REDEMPTION_REDEMPTIONS

    ticket_id: str
    wallet_id: str
    campaign_id: str
    amount_cents: int
    voided_at: datetime


class TicketVoidRefused(Event):
    event_type = "TicketVoidRefused"
    topic = topics.REDEMPTION_REDEMPTIONS

    ticket_id: str
    wallet_id: str
    campaign_id: str
    reason_code: str
    reason: str
    redeemed_at: datetime | None = None


# --- affiliation.affiliates ----------------------------------------------------------------


class AffiliateInvited(Event):
    """An organisation was created; its contact gets the login and a sealed activation token."""

    event_type = "AffiliateInvited"
    topic = topics.AFFILIATION_AFFILIATES

    affiliate_id: str
    name: str
    login: str
    contact_email: str
    sealed_activation_token: str
    activation_expires_at: datetime


class AffiliateActivated(Event):
    """The organisation signed the convention (or was reinstated): it may redeem tickets."""

    event_type = "AffiliateActivated"
    topic = topics.AFFILIATION_AFFILIATES

    affiliate_id: str
    name: str
    activity: str
    city: str
    postcode: str
    activated_at: datetime


class AffiliateSuspended(Event):
    event_type = "AffiliateSuspended"
    topic = topics.AFFILIATION_AFFILIATES

    affiliate_id: str
    reason: str | None = None
    suspended_at: datetime


class ConventionOtpIssued(Event):
    event_type = "ConventionOtpIssued"
    topic = topics.AFFILIATION_AFFILIATES

    affiliate_id: str
    name: str
    contact_email: str
    sealed_otp: str
    expires_at: datetime


class ConventionSigned(Event):
    event_type = "ConventionSigned"
    topic = topics.AFFILIATION_AFFILIATES

    affiliate_id: str
    name: str
    contact_email: str
    convention_version: str
    document_sha256: str
    signed_at: datetime


class PasswordResetRequested(Event):
    event_type = "PasswordResetRequested"
    topic = topics.AFFILIATION_AFFILIATES

    affiliate_id: str
    login: str
    contact_email: str
    sealed_reset_token: str
    expires_at: datetime


class AffiliateLoginReminded(Event):
    """At the start of a campaign every active organisation is reminded of its login (never its password)."""

    event_type = "AffiliateLoginReminded"
    topic = topics.AFFILIATION_AFFILIATES

    affiliate_id: str
    campaign_id: str
    campaign_label: str
    name: str
    login: str
    contact_email: str


# --- affiliation.reimbursements ------------------------------------------------------------


class ReimbursementBatchCreated(Event):
    """Redemptions in a batch can no longer be cancelled."""

    event_type = "ReimbursementBatchCreated"
    topic = topics.AFFILIATION_REIMBURSEMENTS

    batch_id: str
    campaign_id: str
    redemption_ids: list[str]
    total_cents: int
    count: int
    created_at: datetime


class ReimbursementTransfer(_Part):
    affiliate_id: str
    name: str
    contact_email: str
    amount_cents: int
    count: int


class ReimbursementBatchPaid(Event):
    event_type = "ReimbursementBatchPaid"
    topic = topics.AFFILIATION_REIMBURSEMENTS

    batch_id: str
    campaign_id: str
    redemption_ids: list[str]
    transfers: list[ReimbursementTransfer]
    total_cents: int
    paid_at: datetime


# --- notification.messages ------------------------------------------------------------------


class MessageDelivered(Event):
    event_type = "MessageDelivered"
    topic = topics.NOTIFICATION_MESSAGES

    message_id: str
    template: str
    source_event_id: str | None = None
    attempts: int
    delivered_at: datetime


class MessageFailed(Event):
    event_type = "MessageFailed"
    topic = topics.NOTIFICATION_MESSAGES

    message_id: str
    template: str
    source_event_id: str | None = None
    attempts: int
    reason: str
    failed_at: datetime


ALL_EVENTS: tuple[type[Event], ...] = tuple(
    cls for cls in list(globals().values()) if isinstance(cls, type) and issubclass(cls, Event) and cls is not Event
)

_BY_TYPE: dict[tuple[str, int], type[Event]] = {(cls.event_type, cls.schema_version): cls for cls in ALL_EVENTS}


def model_for(event_type: str, schema_version: int) -> type[Event]:
    try:
        return _BY_TYPE[(event_type, schema_version)]
    except KeyError:
        raise UnknownEvent(f"{event_type} v{schema_version}") from None


def events_on(topic: topics.Topic) -> list[type[Event]]:
    return [cls for cls in ALL_EVENTS if cls.topic == topic]
