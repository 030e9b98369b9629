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
    """The pupil as version 1 events carried it (retired: the birth date never leaves enrolment now)."""

    last_name: str
    first_name: str
    birth_date: date
    level: str


class Guardian(_Part):
    """The guardian as version 1 events carried it (retired: the phone never leaves enrolment now)."""

    last_name: str
    first_name: str
    email: str
    phone: str | None = None


class Pupil(_Part):
    """What other services need of a pupil: the name printed on the tickets, the level."""

    last_name: str
    first_name: str
    level: str


class GuardianContact(_Part):
    """What other services need of a guardian: whom to write to."""

    last_name: str
    first_name: str
    email: str


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
    # Personal data of the campaign is purged this many days after the reimbursement deadline.
    data_retention_days: int = 180


class CampaignPurgeStarted(Event):
    """The campaign's reimbursement deadline plus its retention period has passed: every service now
    erases or anonymises that campaign's personal data (its figures survive as aggregates), and
    Kafka records older than `purge_before` may be deleted once every consumer group is past them."""

    event_type = "CampaignPurgeStarted"
    topic = topics.ENROLMENT_CAMPAIGNS

    campaign_id: str
    purge_id: str
    purge_before: datetime
    announced_at: datetime


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


class WaitingFile(_Part):
    application_id: str
    student_last_name: str
    student_first_name: str
    channel: Literal["online", "paper"] = "online"
    submitted_at: datetime


class CorrespondentDigestDue(Event):
    """The weekly reminder of the files waiting for a school's correspondent, oldest first (sent
    only when some are waiting)."""

    event_type = "CorrespondentDigestDue"
    topic = topics.ENROLMENT_SCHOOLS

    digest_id: str
    school_id: str
    school_name: str
    correspondent_email: str
    week: str
    waiting: list[WaitingFile]
    total_waiting: int
    oldest_submitted_at: datetime
    due_at: datetime


# --- enrolment.applications ------------------------------------------------------------


class ApplicationSubmittedV1(Event):
    retired = True
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


class PassGrantedV1(Event):
    """Version 1 of PassGranted (retired: it carried the birth date and the guardian's phone)."""

    retired = True

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


class ApplicationRejectedV1(Event):
    retired = True
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


class ApplicationSubmitted(Event):
    event_type = "ApplicationSubmitted"
    schema_version = 2
    topic = topics.ENROLMENT_APPLICATIONS

    application_id: str
    campaign_id: str
    school_id: str
    family_sub: str | None = None
    channel: Literal["online", "paper"] = "online"
    student: Pupil
    guardian: GuardianContact
    submitted_at: datetime


class PassGranted(Event):
    """The school's correspondent validated the application: the student has a pass.

    Carries what the wallet and notification services need, so that neither asks the enrolment
    service anything; never the birth date or the phone, which stay in enrolment.
    """

    event_type = "PassGranted"
    schema_version = 2
    topic = topics.ENROLMENT_APPLICATIONS

    application_id: str
    campaign_id: str
    campaign_label: str
    school_id: str
    family_sub: str | None = None
    channel: Literal["online", "paper"] = "online"
    student: Pupil
    guardian: GuardianContact
    allowance_cents: int
    tickets_per_pass: int
    ticket_min_cents: int
    ticket_max_cents: int
    pass_valid_until: date
    validated_at: datetime


class ApplicationRejected(Event):
    event_type = "ApplicationRejected"
    schema_version = 2
    topic = topics.ENROLMENT_APPLICATIONS

    application_id: str
    campaign_id: str
    school_id: str
    family_sub: str | None = None
    student_first_name: str
    guardian: GuardianContact
    reason: str
    rejected_at: datetime


# --- enrolment.privacy ------------------------------------------------------------------


class GuardianErasureRequested(Event):
    """A guardian asked Carnet to erase what it holds about them and their children: every service
    erases or anonymises what it holds about these applications, wallets and family accounts
    (accounting records keep their amounts, not identities)."""

    event_type = "GuardianErasureRequested"
    topic = topics.ENROLMENT_PRIVACY

    erasure_id: str
    application_ids: list[str]
    wallet_ids: list[str]
    family_subs: list[str]
    campaign_ids: list[str]
    requested_at: datetime


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
    # "replaced": the new sheet after a lost ticket was replaced, sent without the family asking.
    reason: Literal["requested", "replaced"] = "requested"


class PassExpiryReminderDue(Event):
    """The pass ends soon and money is still on it: the family is reminded, once."""

    event_type = "PassExpiryReminderDue"
    topic = topics.WALLET_WALLETS

    wallet_id: str
    campaign_id: str
    guardian_email: str
    student_first_name: str
    valid_until: date
    credited_unspent_cents: int
    remaining_cents: int
    due_at: datetime


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


class TicketReplaceRequested(Event):
    """A credited ticket was declared lost or stolen: the redemption service revokes its code for the
    new one (keyed hash only) unless it was redeemed meanwhile, and answers TicketReplaced or
    TicketReplaceRefused."""

    event_type = "TicketReplaceRequested"
    topic = topics.WALLET_TICKETS

    ticket_id: str
    wallet_id: str
    campaign_id: str
    new_code_hash: str
    new_code_suffix: str
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
    # Who undid it: the affiliate within the grace period, or the admin later, with a reason.
    cancelled_by_role: Literal["affiliate", "admin"] = "affiliate"
    reason: str | None = None
    # What the ticket became: redeemable again, or voided (then TicketVoided follows).
    then: Literal["redeemable", "void"] = "redeemable"


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


class TicketReplaced(Event):
    """The ticket's old code is refused from now on (TICKET_REPLACED); its new code is redeemable."""

    event_type = "TicketReplaced"
    topic = topics.REDEMPTION_REDEMPTIONS

    ticket_id: str
    wallet_id: str
    campaign_id: str
    replaced_at: datetime


class TicketReplaceRefused(Event):
    """The ticket was redeemed before its replacement: it stays redeemed, the old code stands."""

    event_type = "TicketReplaceRefused"
    topic = topics.REDEMPTION_REDEMPTIONS

    ticket_id: str
    wallet_id: str
    campaign_id: str
    reason_code: str
    reason: str
    redeemed_at: datetime | None = None
    affiliate_id: str | None = None


# --- affiliation.affiliates ----------------------------------------------------------------


class AffiliateInvitedV1(Event):
    retired = True
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


class ConventionOtpIssuedV1(Event):
    retired = True
    event_type = "ConventionOtpIssued"
    topic = topics.AFFILIATION_AFFILIATES

    affiliate_id: str
    name: str
    contact_email: str
    sealed_otp: str
    expires_at: datetime


class ConventionSignedV1(Event):
    retired = True
    event_type = "ConventionSigned"
    topic = topics.AFFILIATION_AFFILIATES

    affiliate_id: str
    name: str
    contact_email: str
    convention_version: str
    document_sha256: str
    signed_at: datetime


class PasswordResetRequestedV1(Event):
    retired = True
    event_type = "PasswordResetRequested"
    topic = topics.AFFILIATION_AFFILIATES

    affiliate_id: str
    login: str
    contact_email: str
    sealed_reset_token: str
    expires_at: datetime


class AffiliateLoginRemindedV1(Event):
    retired = True
    """At the start of a campaign every active organisation is reminded of its login (never its password)."""

    event_type = "AffiliateLoginReminded"
    topic = topics.AFFILIATION_AFFILIATES

    affiliate_id: str
    campaign_id: str
    campaign_label: str
    name: str
    login: str
    contact_email: str


# --- affiliation.notices (read by the notification service alone) -------------------------


class AffiliateInvited(Event):
    """An organisation was created; its contact gets the login and a sealed activation token."""

    event_type = "AffiliateInvited"
    schema_version = 2
    topic = topics.AFFILIATION_NOTICES

    affiliate_id: str
    name: str
    login: str
    contact_email: str
    sealed_activation_token: str
    activation_expires_at: datetime



class ConventionOtpIssued(Event):
    event_type = "ConventionOtpIssued"
    schema_version = 2
    topic = topics.AFFILIATION_NOTICES

    affiliate_id: str
    name: str
    contact_email: str
    sealed_otp: str
    expires_at: datetime



class ConventionSigned(Event):
    event_type = "ConventionSigned"
    schema_version = 2
    topic = topics.AFFILIATION_NOTICES

    affiliate_id: str
    name: str
    contact_email: str
    convention_version: str
    document_sha256: str
    signed_at: datetime



class PasswordResetRequested(Event):
    event_type = "PasswordResetRequested"
    schema_version = 2
    topic = topics.AFFILIATION_NOTICES

    affiliate_id: str
    login: str
    contact_email: str
    sealed_reset_token: str
    expires_at: datetime



class AffiliateLoginReminded(Event):
    """At the start of a campaign every active organisation is reminded of its login (never its password)."""

    event_type = "AffiliateLoginReminded"
    schema_version = 2
    topic = topics.AFFILIATION_NOTICES

    affiliate_id: str
    campaign_id: str
    campaign_label: str
    name: str
    login: str
    contact_email: str





class IbanChangeOtpIssued(Event):
    """An IBAN change was asked: the current contact gets the one-time code that confirms it."""

    event_type = "IbanChangeOtpIssued"
    topic = topics.AFFILIATION_NOTICES

    affiliate_id: str
    name: str
    contact_email: str
    sealed_otp: str
    new_iban_suffix: str
    expires_at: datetime


class AffiliateIbanChanged(Event):
    """The new IBAN is used from the next reimbursement batch on; the contact is told."""

    event_type = "AffiliateIbanChanged"
    topic = topics.AFFILIATION_NOTICES

    affiliate_id: str
    name: str
    contact_email: str
    iban_suffix: str
    changed_at: datetime


class AffiliateContactChanged(Event):
    """The organisation's contact address changed: the old address is told."""

    event_type = "AffiliateContactChanged"
    topic = topics.AFFILIATION_NOTICES

    affiliate_id: str
    name: str
    old_contact_email: str
    new_contact_email: str
    changed_at: datetime


class ReimbursementTransferSent(Event):
    """A batch was paid: the organisation is told what it receives."""

    event_type = "ReimbursementTransferSent"
    topic = topics.AFFILIATION_NOTICES

    affiliate_id: str
    name: str
    contact_email: str
    batch_id: str
    campaign_id: str
    amount_cents: int
    count: int
    paid_at: datetime


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
    """A transfer as version 1 of ReimbursementBatchPaid carried it (with the contact's address)."""

    affiliate_id: str
    name: str
    contact_email: str
    amount_cents: int
    count: int


class ReimbursementBatchPaidV1(Event):
    retired = True
    event_type = "ReimbursementBatchPaid"
    topic = topics.AFFILIATION_REIMBURSEMENTS

    batch_id: str
    campaign_id: str
    redemption_ids: list[str]
    transfers: list[ReimbursementTransfer]
    total_cents: int
    paid_at: datetime


class PaidTransfer(_Part):
    affiliate_id: str
    amount_cents: int
    count: int


class ReimbursementBatchPaid(Event):
    """The batch's transfers were made (contacts are told on affiliation.notices)."""

    event_type = "ReimbursementBatchPaid"
    schema_version = 2
    topic = topics.AFFILIATION_REIMBURSEMENTS

    batch_id: str
    campaign_id: str
    redemption_ids: list[str]
    transfers: list[PaidTransfer]
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


def events_on(topic: topics.Topic, *, retired: bool = True) -> list[type[Event]]:
    """The events of a topic; `retired=False` leaves out the versions no longer published."""
    return [cls for cls in ALL_EVENTS if cls.topic == topic and (retired or not cls.retired)]
