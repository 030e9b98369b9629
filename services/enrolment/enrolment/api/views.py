"""Response models: what each route answers, built from the domain objects the use cases return."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from ..application.rosters import RosterImported
from ..application.schools import SchoolShown
from ..domain import Application, ApplicationStatus, Campaign


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

    @classmethod
    def of(cls, campaign: Campaign) -> CampaignView:
        return cls.model_validate(campaign.settings())


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
    last_name: str
    first_name: str
    birth_date: date
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
    guardian: GuardianView
    address: AddressView
    on_roster: bool | None = Field(None, description="in a school's views only: the student is on the school's roster")

    @classmethod
    def of(cls, a: Application, *, for_school: bool) -> ApplicationView:
        form = a.form.as_dict()
        view = cls(
            application_id=a.application_id, campaign_id=a.form.campaign_id, school_id=a.form.school_id,
            status=a.progress.status, history=[StatusChangeView(status=c.status, at=c.at) for c in a.progress.history],
            rejection_reason=a.progress.rejection_reason, wallet_id=a.progress.wallet_id, channel=a.channel,
            submitted_at=a.progress.submitted_at, student=StudentView(**form["student"]),
            guardian=GuardianView(**form["guardian"]), address=AddressView(**form["address"]),
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


class ValidationDelayView(BaseModel):
    count: int
    median_days: float | None
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
