"""In-memory stand-ins for the enrolment's repositories and unit of work, for unit tests of the use
cases (cosmicpython's FakeUnitOfWork): the same methods as store.py's, state kept in dicts, and
rolled back with the events when the block raises."""

from __future__ import annotations

import copy
from dataclasses import replace
from datetime import datetime
from types import TracebackType

from carnet_contracts.envelope import Event
from carnet_runtime import UnitOfWork
from enrolment.domain import (
    Application,
    ApplicationFact,
    ApplicationProgress,
    ApplicationStatus,
    Campaign,
    Roster,
    School,
    StudentKey,
)


class FakeCampaigns:
    def __init__(self, state: dict) -> None:
        self.state = state

    async def get(self, campaign_id: str, *, for_update: bool = False) -> Campaign | None:
        return self.state["campaigns"].get(campaign_id)

    async def list(self) -> list[Campaign]:
        return sorted(self.state["campaigns"].values(), key=lambda c: (-c.calendar.enrolment_opens.toordinal(), c.campaign_id))

    async def put(self, campaign: Campaign) -> None:
        self.state["campaigns"][campaign.campaign_id] = campaign


class FakeSchools:
    def __init__(self, state: dict) -> None:
        self.state = state

    async def get(self, school_id: str, *, for_update: bool = False) -> School | None:
        return self.state["schools"].get(school_id)

    async def list(self) -> list[School]:
        return sorted(self.state["schools"].values(), key=lambda s: (s.name, s.school_id))

    async def put(self, school: School) -> None:
        self.state["schools"][school.school_id] = school


class FakeApplications:
    def __init__(self, state: dict) -> None:
        self.state = state

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
                            if a.form.school_id == school_id and (status is None or a.progress.status is status))

    async def of_family(self, family_sub: str) -> list[Application]:
        return self._sorted(a for a in self.state["applications"].values() if a.family_sub == family_sub)

    async def submitted_students_of_school(self, school_id: str) -> list[tuple[str, StudentKey]]:
        return [(a.application_id, a.form.student.key) for a in await self.of_school(school_id, ApplicationStatus.SUBMITTED)]

    async def facts(self, campaign_id: str | None) -> list[ApplicationFact]:
        return [ApplicationFact(a.form.school_id, a.progress.status, a.progress.submitted_at, a.progress.validated_at)
                for a in self.state["applications"].values() if campaign_id in (None, a.form.campaign_id)]


class FakeRosters:
    def __init__(self, state: dict) -> None:
        self.state = state

    async def replace(self, school_id: str, roster: Roster, *, at: datetime, by: str, matched: int) -> None:
        self.state["rosters"][school_id] = roster
        self.state["roster_imports"].append((school_id, by, at, len(roster.entries), len(roster.rejected), matched))


class FakeEnrolmentUnitOfWork(UnitOfWork):
    """`published` holds the events of the last block; `committed` every event of every block that
    ended well, in order, as the outbox would."""

    def __init__(self) -> None:
        super().__init__()
        self.state: dict = {"campaigns": {}, "schools": {}, "applications": {}, "entered_by": {}, "decided_by": {},
                            "rosters": {}, "roster_imports": []}
        self.committed: list[Event] = []
        self.blocks = 0
        self._before: dict | None = None
        self.campaigns = FakeCampaigns(self.state)
        self.schools = FakeSchools(self.state)
        self.applications = FakeApplications(self.state)
        self.rosters = FakeRosters(self.state)

    async def __aenter__(self) -> FakeEnrolmentUnitOfWork:
        await super().__aenter__()
        self.blocks += 1
        self._before = copy.deepcopy(self.state)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if exc_type is not None and self._before is not None:
            self.state.clear()
            self.state.update(self._before)
        else:
            self.committed += [event for event, _ in self.published]
        await super().__aexit__(exc_type, exc, tb)
