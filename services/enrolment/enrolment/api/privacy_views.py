"""Response models of the purge, a person's rights and the weekly digests."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

from ..application.digests import DigestsSent
from ..domain import ApplicationRecord, CampaignPurge, Erasure, PrivacyExport, RosterRecord
from .views import AddressView, GuardianView, StatusChangeView, StudentView


class CampaignPurgeView(BaseModel):
    campaign_id: str
    purge_id: str
    purge_before: datetime = Field(description="Kafka records of the season older than this may go")
    announced_at: datetime
    applications_anonymised: int
    roster_entries_deleted: int

    @classmethod
    def of(cls, purge: CampaignPurge) -> CampaignPurgeView:
        return cls(campaign_id=purge.campaign_id, purge_id=purge.purge_id, purge_before=purge.purge_before,
                   announced_at=purge.announced_at, applications_anonymised=purge.applications_anonymised,
                   roster_entries_deleted=purge.roster_entries_deleted)


class DigestView(BaseModel):
    school_id: str
    total_waiting: int
    digest_id: str


class DigestsView(BaseModel):
    week: str = Field(description="ISO week, Europe/Paris (2014-W38)")
    digests: list[DigestView] = Field(description="schools with a correspondent address and waiting files, "
                                                  "not already sent this week (unless forced)")

    @classmethod
    def of(cls, sent: DigestsSent) -> DigestsView:
        return cls(week=sent.week, digests=[DigestView(school_id=d.school_id, total_waiting=d.total_waiting,
                                                       digest_id=d.digest_id) for d in sent.digests])


class ErasureView(BaseModel):
    erasure_id: str
    requested_at: datetime
    applications: list[str] = Field(description="the applications anonymised (none for an address enrolment does not know)")
    wallet_ids: list[str]
    family_subs: list[str]
    campaign_ids: list[str]

    @classmethod
    def of(cls, erasure: Erasure) -> ErasureView:
        return cls(erasure_id=erasure.erasure_id, requested_at=erasure.requested_at,
                   applications=list(erasure.application_ids), wallet_ids=list(erasure.wallet_ids),
                   family_subs=list(erasure.family_subs), campaign_ids=list(erasure.campaign_ids))


class ApplicationRecordView(BaseModel):
    """Every field enrolment stores about an application, and its history."""

    application_id: str
    campaign_id: str
    school_id: str
    family_sub: str | None = Field(description="the family account it was made from (online)")
    channel: str
    entered_by: str | None = Field(description="the correspondent who entered the paper form on the family's behalf")
    decided_by: str | None = Field(description="the correspondent who validated or rejected it")
    student: StudentView
    guardian: GuardianView
    address: AddressView
    status: str
    rejection_reason: str | None
    wallet_id: str | None
    submitted_at: datetime
    validated_at: datetime | None
    history: list[StatusChangeView]

    @classmethod
    def of(cls, record: ApplicationRecord) -> ApplicationRecordView:
        a = record.application
        form = a.form.as_dict()
        return cls(
            application_id=a.application_id, campaign_id=a.form.campaign_id, school_id=a.form.school_id,
            family_sub=a.family_sub, channel=a.channel, entered_by=record.entered_by, decided_by=record.decided_by,
            student=StudentView(**form["student"]), guardian=GuardianView(**form["guardian"]),
            address=AddressView(**form["address"]), status=a.progress.status.value,
            rejection_reason=a.progress.rejection_reason, wallet_id=a.progress.wallet_id,
            submitted_at=a.progress.submitted_at, validated_at=record.validated_at,
            history=[StatusChangeView(status=c.status, at=c.at) for c in a.progress.history],
        )


class RosterRecordView(BaseModel):
    """A line of a school's student list about one of the children."""

    school_id: str
    campaign_id: str | None
    last_name: str
    first_name: str
    birth_date: date
    level: str
    line: int = Field(description="its line in the imported file")
    imported_at: datetime

    @classmethod
    def of(cls, record: RosterRecord) -> RosterRecordView:
        return cls(**record.__dict__)


class PrivacyExportView(BaseModel):
    service: Literal["enrolment"] = "enrolment"
    family_sub: str | None = Field(description="the family account exported (a family's own export)")
    email: str | None = Field(description="the guardian's address exported (the admin's export)")
    generated_at: datetime
    applications: list[ApplicationRecordView]
    roster_entries: list[RosterRecordView]

    @classmethod
    def of(cls, export: PrivacyExport) -> PrivacyExportView:
        return cls(family_sub=export.family_sub, email=export.email, generated_at=export.generated_at,
                   applications=[ApplicationRecordView.of(r) for r in export.applications],
                   roster_entries=[RosterRecordView.of(r) for r in export.roster_entries])
