"""Response models: what each route answers, built from the domain objects the use cases return."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from ..application.campaigns import CampaignShown
from ..application.rosters import RosterImported
from ..application.schools import SchoolShown
from ..domain import Application, ApplicationStatus


class CampaignView(BaseModel):
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
    redemption_cancel_grace_minutes: int
    data_retention_days: int = Field(description="the personal data is purged this many days after reimbursement_deadline")
    purge_due_from: datetime = Field(description="when the purge becomes due (Europe/Paris midnight)")
    purged_at: datetime | None = Field(description="when the purge was announced; the campaign and its figures stay")
    purge_id: str | None

    @classmethod
    def of(cls, shown: CampaignShown) -> CampaignView:
        c, purge = shown.campaign, shown.purge
        return cls.model_validate({
            **c.settings(), "purge_due_from": c.purge_due_from, "purged_at": purge.announced_at if purge else None,
            "purge_id": purge.purge_id if purge else None,
        })


class SchoolView(BaseModel):
    school_id: str
    name: str
    postcode: str
    city: str
    correspondent_email: str | None = Field(None, description="admin only: absent from anyone else's answer")

    @classmethod
    def of(cls, shown: SchoolShown) -> SchoolView:
        s = shown.school
        view = cls(school_id=s.school_id, name=s.name, postcode=s.postcode, city=s.city)
        if shown.with_staff:
            view.correspondent_email = s.correspondent_email
        return view


class StatusChangeView(BaseModel):
    status: ApplicationStatus
    at: datetime


class StudentView(BaseModel):
    last_name: str | None = Field(description="null once anonymised")
    first_name: str | None = Field(description="null once anonymised")
    birth_date: date | None = Field(description="null once anonymised")
    level: str


class GuardianView(BaseModel):
    last_name: str
    first_name: str
    email: str
    phone: str | None


class AddressView(BaseModel):
    line: str
    postcode: str
    city: str


class ApplicationView(BaseModel):
    application_id: str
    campaign_id: str
    school_id: str
    status: ApplicationStatus
    history: list[StatusChangeView]
    rejection_reason: str | None
    wallet_id: str | None = Field(description="once the wallet exists (status wallet_ready)")
    channel: str = Field(description="`online` (a family) or `paper` (entered by the school)")
    submitted_at: datetime
    student: StudentView
    guardian: GuardianView | None = Field(description="null once anonymised")
    address: AddressView | None = Field(description="null once anonymised")
    anonymised_at: datetime | None = Field(
        description="when the campaign's purge or the guardian's erasure took its identities away")
    on_roster: bool | None = Field(None, description="in a school's views only: the student is on the school's roster")

    @classmethod
    def of(cls, a: Application, *, for_school: bool) -> ApplicationView:
        gone = a.anonymised_at is not None
        form = a.form.as_dict() if not gone else None
        view = cls(
            application_id=a.application_id, campaign_id=a.form.campaign_id, school_id=a.form.school_id,
            status=a.progress.status, history=[StatusChangeView(status=c.status, at=c.at) for c in a.progress.history],
            rejection_reason=a.progress.rejection_reason, wallet_id=a.progress.wallet_id, channel=a.channel,
            submitted_at=a.progress.submitted_at,
            student=StudentView(**form["student"]) if form else StudentView(
                last_name=None, first_name=None, birth_date=None, level=a.form.student.level),
            guardian=GuardianView(**form["guardian"]) if form else None,
            address=AddressView(**form["address"]) if form else None, anonymised_at=a.anonymised_at,
        )
        if for_school:
            view.on_roster = a.on_roster
        return view


class RejectedLineView(BaseModel):
    line: int = Field(description="as a text editor shows it: the file's first line is 1, a header included")
    reason: str


class RosterImportView(BaseModel):
    imported: int
    rejected: list[RejectedLineView] = Field(description="the first bad lines (CARNET_ENROLMENT_ROSTER_REJECTED_SHOWN)")
    rejected_count: int = Field(description="every bad line of the file")
    rejected_truncated: bool = Field(description="true when `rejected` lists only the first of the `rejected_count` bad lines")
    matched: list[str] = Field(description="the school's submitted applications whose student is on the roster")
    validated: list[str] = Field(description="those validated at once (`?validate_matched=true`)")
    encoding: str
    header_line: int | None

    @classmethod
    def of(cls, done: RosterImported) -> RosterImportView:
        return cls(
            imported=len(done.roster.entries), rejected=[RejectedLineView(line=r.line, reason=r.reason) for r in done.rejected],
            rejected_count=done.rejected_count, rejected_truncated=done.rejected_truncated, matched=done.matched,
            validated=done.validated, encoding=done.roster.encoding, header_line=done.roster.header_line,
        )


class SchoolDelayView(BaseModel):
    count: int = Field(description="applications validated")
    median_days: float | None = Field(description="submission to validation")
    max_days: float | None


class WaitingView(BaseModel):
    count: int = Field(description="applications submitted, still waiting for the school")
    oldest_submitted_at: datetime | None
    oldest_days: int | None = Field(description="age of the oldest, in whole days (Europe/Paris)")
    median_days: float | None = Field(description="median age, in whole days (Europe/Paris)")


class ValidationDelayView(BaseModel):
    count: int
    median_days: float | None
    max_days: float | None
    p90_days: float | None
    promise_days: int
    within_promise: int
    within_promise_ratio: float | None


class FiguresView(BaseModel):
    campaign_id: str | None
    total: int
    by_status: dict[str, int]
    granted: int = Field(description="validated + wallet_ready")
    by_school: dict[str, dict[str, int]]
    validation_delay: ValidationDelayView
    validation_delay_by_school: dict[str, SchoolDelayView] = Field(description="schools with validated applications")
    waiting: WaitingView = Field(description="files still waiting for the schools, and their age today")
    waiting_by_school: dict[str, WaitingView] = Field(description="schools with files still waiting")
