"""In-memory stand-ins for the enrolment's repositories and unit of work, for unit tests of the use
cases (cosmicpython's FakeUnitOfWork): the same methods as store.py's, state kept in dicts, and
rolled back with the events when the block raises."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from carnet_runtime.uow import InMemoryRepository, InMemoryUnitOfWork
from enrolment.domain import (
    Address,
    Application,
    ApplicationFact,
    ApplicationProgress,
    ApplicationRecord,
    ApplicationStatus,
    Campaign,
    CampaignPurge,
    Digest,
    Erasure,
    Guardian,
    Roster,
    RosterRecord,
    School,
    Student,
    StudentKey,
    WaitingFile,
)


class FakeCampaigns(InMemoryRepository):
    async def get(self, campaign_id: str, *, for_update: bool = False) -> Campaign | None:
        return self.state["campaigns"].get(campaign_id)

    async def list(self) -> list[Campaign]:
        return sorted(self.state["campaigns"].values(), key=lambda c: (-c.calendar.enrolment_opens.toordinal(), c.campaign_id))

    async def put(self, campaign: Campaign) -> None:
        self.state["campaigns"][campaign.campaign_id] = campaign


class FakePurges(InMemoryRepository):
    async def of_campaign(self, campaign_id: str) -> CampaignPurge | None:
        return self.state["purges"].get(campaign_id)

    async def by_campaign(self) -> dict[str, CampaignPurge]:
        return dict(self.state["purges"])

    async def add(self, purge: CampaignPurge) -> None:
        assert purge.campaign_id not in self.state["purges"], "campaign_purges.campaign_id is unique"
        self.state["purges"][purge.campaign_id] = purge


class FakeSchools(InMemoryRepository):
    async def get(self, school_id: str, *, for_update: bool = False) -> School | None:
        return self.state["schools"].get(school_id)

    async def list(self) -> list[School]:
        return sorted(self.state["schools"].values(), key=lambda s: (s.name, s.school_id))

    async def put(self, school: School) -> None:
        self.state["schools"][school.school_id] = school


class FakeDigests(InMemoryRepository):
    async def schools_sent(self, week: str) -> set[str]:
        return {d.school_id for d in self.state["digests"] if d.week == week}

    async def add(self, digest: Digest) -> bool:
        if not digest.forced and any(d.school_id == digest.school_id and d.week == digest.week and not d.forced
                                     for d in self.state["digests"]):
            return False
        self.state["digests"].append(digest)
        return True


class FakeApplications(InMemoryRepository):
    def _seen(self, a: Application) -> Application:
        roster = self.state["rosters"].get(a.form.school_id)
        return replace(a, on_roster=roster is not None and a.form.student.key in roster.keys)

    def _live(self, campaign_id: str, key: StudentKey) -> bool:
        return any(a.form.campaign_id == campaign_id and a.form.student.key == key
                   and a.progress.status is not ApplicationStatus.REJECTED for a in self.state["applications"].values())

    async def student_already_applied(self, campaign_id: str, key: StudentKey) -> bool:
        return self._live(campaign_id, key)

    async def add(self, application: Application, *, entered_by: str | None) -> bool:
        if self._live(application.form.campaign_id, application.form.student.key):
            return False
        self.state["applications"][application.application_id] = application
        self.state["entered_by"][application.application_id] = entered_by
        return True

    async def get(self, application_id: str, *, for_update: bool = False) -> Application | None:
        found = self.state["applications"].get(application_id)
        return self._seen(found) if found else None

    async def save_progress(self, before: Application, progress: ApplicationProgress, *,
                            decided_by: str | None = None) -> None:
        self.state["applications"][before.application_id] = replace(before, progress=progress)
        if decided_by is not None:
            self.state["decided_by"][before.application_id] = decided_by

    def _sorted(self, found) -> list[Application]:
        return [self._seen(a) for a in sorted(found, key=lambda a: (a.progress.submitted_at, a.application_id))]

    async def of_school(self, school_id: str, status: ApplicationStatus | None) -> list[Application]:
        return self._sorted(a for a in self.state["applications"].values()
                            if a.form.school_id == school_id and (status is None or a.progress.status is status)
                            and a.anonymised_at is None)

    async def of_family(self, family_sub: str) -> list[Application]:
        return self._sorted(a for a in self.state["applications"].values() if a.family_sub == family_sub)

    async def submitted_students_of_school(self, school_id: str) -> list[tuple[str, StudentKey]]:
        return [(a.application_id, a.form.student.key) for a in self._waiting(school_id)]

    async def facts(self, campaign_id: str | None) -> list[ApplicationFact]:
        return [ApplicationFact(a.form.school_id, a.progress.status, a.progress.submitted_at, a.progress.validated_at)
                for a in self.state["applications"].values() if campaign_id in (None, a.form.campaign_id)]

    def _waiting(self, school_id: str | None = None) -> list[Application]:
        return self._sorted(a for a in self.state["applications"].values()
                            if a.progress.status is ApplicationStatus.SUBMITTED and a.anonymised_at is None
                            and school_id in (None, a.form.school_id))

    async def waiting_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for a in self._waiting():
            counts[a.form.school_id] = counts.get(a.form.school_id, 0) + 1
        return counts

    async def waiting_of_school(self, school_id: str, limit: int) -> list[WaitingFile]:
        return [WaitingFile(a.application_id, a.form.student.last_name, a.form.student.first_name, a.channel,
                            a.progress.submitted_at) for a in self._waiting(school_id)[:limit]]

    async def of_guardian(self, email: str) -> list[Application]:
        live = [a for a in self.state["applications"].values() if a.anonymised_at is None]
        subs = {a.family_sub for a in live if a.form.guardian.email.lower() == email.lower() and a.family_sub}
        return self._sorted(a for a in live if a.form.guardian.email.lower() == email.lower() or a.family_sub in subs)

    async def records(self, *, family_sub: str | None = None, email: str | None = None) -> list[ApplicationRecord]:
        found = self._sorted(a for a in self.state["applications"].values()
                             if (family_sub is not None and a.family_sub == family_sub)
                             or (email is not None and a.anonymised_at is None
                                 and a.form.guardian.email.lower() == email.lower()))
        return [ApplicationRecord(a, self.state["entered_by"].get(a.application_id),
                                  self.state["decided_by"].get(a.application_id), a.progress.validated_at) for a in found]

    def _anonymise(self, chosen: list[Application], at: datetime) -> int:
        for a in chosen:
            form = replace(a.form, student=Student("", "", None, a.form.student.level),  # type: ignore[arg-type]
                           guardian=Guardian("", "", "", None), address=Address("", "", ""))
            self.state["applications"][a.application_id] = replace(
                a, form=form, family_sub=None, anonymised_at=at, progress=replace(a.progress, rejection_reason=None))
            self.state["entered_by"].pop(a.application_id, None)
            self.state["decided_by"].pop(a.application_id, None)
        return len(chosen)

    async def anonymise_campaign(self, campaign_id: str, *, at: datetime) -> int:
        return self._anonymise([a for a in self.state["applications"].values()
                                if a.form.campaign_id == campaign_id and a.anonymised_at is None], at)

    async def anonymise(self, application_ids: Sequence[str], *, at: datetime) -> int:
        return self._anonymise([a for a in self.state["applications"].values()
                                if a.application_id in application_ids and a.anonymised_at is None], at)


class FakeRosters(InMemoryRepository):
    async def replace(self, school_id: str, roster: Roster, *, at: datetime, by: str, matched: int,
                      campaign_id: str | None) -> None:
        self.state["rosters"][school_id] = roster
        self.state["roster_campaigns"][school_id] = (campaign_id, at)
        self.state["roster_imports"].append((school_id, by, at, len(roster.entries), len(roster.rejected), matched,
                                             campaign_id))

    async def delete_campaign(self, campaign_id: str) -> int:
        gone = [s for s, (c, _) in self.state["roster_campaigns"].items() if c in (campaign_id, None)]
        deleted = sum(len(self.state["rosters"].pop(s).entries) for s in gone)
        for school_id in gone:
            del self.state["roster_campaigns"][school_id]
        self.state["roster_imports"] = [i for i in self.state["roster_imports"] if i[-1] not in (campaign_id, None)]
        return deleted

    def _children(self, application_ids: Sequence[str]) -> set[tuple[str, StudentKey]]:
        return {(a.form.school_id, a.form.student.key) for a in self.state["applications"].values()
                if a.application_id in application_ids and a.anonymised_at is None}

    async def of_applications(self, application_ids: Sequence[str]) -> list[RosterRecord]:
        children = self._children(application_ids)
        return [RosterRecord(school_id, self.state["roster_campaigns"][school_id][0], e.last_name, e.first_name,
                             e.birth_date, e.level, e.line, self.state["roster_campaigns"][school_id][1])
                for school_id, roster in sorted(self.state["rosters"].items()) for e in roster.entries
                if (school_id, e.key) in children]

    async def delete_students(self, application_ids: Sequence[str]) -> int:
        children = self._children(application_ids)
        deleted = 0
        for school_id, roster in list(self.state["rosters"].items()):
            kept = tuple(e for e in roster.entries if (school_id, e.key) not in children)
            deleted += len(roster.entries) - len(kept)
            self.state["rosters"][school_id] = replace(roster, entries=kept, keys=frozenset(e.key for e in kept))
        return deleted


class FakePrivacy(InMemoryRepository):
    async def record_erasure(self, erasure: Erasure, *, requested_by: str) -> None:
        self.state["erasures"].append((erasure, requested_by))

    async def forget_sent_events(self, application_ids: Sequence[str]) -> None:
        self.state["forgotten_events"].extend(application_ids)

    async def forget_digests_of_campaign(self, campaign_id: str) -> None:
        self.state["forgotten_digests_of"].append(campaign_id)


class FakeEnrolmentUnitOfWork(InMemoryUnitOfWork):
    campaigns: FakeCampaigns
    purges: FakePurges
    schools: FakeSchools
    digests: FakeDigests
    applications: FakeApplications
    rosters: FakeRosters
    privacy: FakePrivacy

    def __init__(self) -> None:
        super().__init__({"campaigns": {}, "purges": {}, "schools": {}, "digests": [], "applications": {},
                          "entered_by": {}, "decided_by": {}, "rosters": {}, "roster_campaigns": {},
                          "roster_imports": [], "erasures": [], "forgotten_events": [],
                          "forgotten_digests_of": []})
