"""Events of the enrolment service: campaigns, schools, applications, privacy requests."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from .. import topics
from ..envelope import Event
from .parts import Guardian, GuardianContact, Pupil, Student, _Part

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


class _Submission(Event):
    application_id: str
    campaign_id: str
    school_id: str
    family_sub: str | None = None
    channel: Literal["online", "paper"] = "online"


class _Rejection(Event):
    application_id: str
    campaign_id: str
    school_id: str
    family_sub: str | None = None
    student_first_name: str


class ApplicationSubmittedV1(_Submission):
    retired = True
    event_type = "ApplicationSubmitted"
    topic = topics.ENROLMENT_APPLICATIONS

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


class ApplicationRejectedV1(_Rejection):
    retired = True
    event_type = "ApplicationRejected"
    topic = topics.ENROLMENT_APPLICATIONS

    guardian: Guardian
    reason: str
    rejected_at: datetime


class ApplicationSubmitted(_Submission):
    event_type = "ApplicationSubmitted"
    schema_version = 2
    topic = topics.ENROLMENT_APPLICATIONS

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


class ApplicationRejected(_Rejection):
    event_type = "ApplicationRejected"
    schema_version = 2
    topic = topics.ENROLMENT_APPLICATIONS

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
