"""The school's student list: read off the event loop, stored as the school's roster, matched
against the school's submitted applications, which may be validated at once."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

from carnet_runtime.auth import Principal

from ..domain import COLLEGE_LEVELS, ApplicationStatus, RejectedLine, Roster, read_roster
from ..store import EnrolmentUnitOfWork
from .applications import grant_pass
from .common import check_correspondent_of, unknown_school


@dataclass(frozen=True)
class RosterLimits:
    max_lines: int  # a longer file is refused whole (ROSTER_TOO_LARGE)
    rejected_shown: int  # the answer lists the first bad lines only, and counts them all


@dataclass(frozen=True)
class ImportRoster:
    school_id: str
    body: bytes  # the CSV file, or a form upload holding it
    content_type: str
    validate_matched: bool = False


@dataclass(frozen=True)
class RosterImported:
    roster: Roster
    rejected: tuple[RejectedLine, ...]  # the first `rejected_shown` bad lines
    matched: list[str]
    validated: list[str]

    @property
    def rejected_count(self) -> int:
        return len(self.roster.rejected)

    @property
    def rejected_truncated(self) -> bool:
        return len(self.rejected) < len(self.roster.rejected)


async def import_roster(uow: EnrolmentUnitOfWork, actor: Principal, command: ImportRoster, limits: RosterLimits, *,
                        now: datetime) -> RosterImported:
    """The roster replaces the school's previous one. The file is read in a worker thread, outside
    any transaction, so that a large file neither stalls the service nor holds a connection."""
    check_correspondent_of(actor, command.school_id)
    async with uow:
        if await uow.schools.get(command.school_id) is None:
            raise unknown_school(command.school_id)
        campaign_levels = [level for c in await uow.campaigns.list() for level in c.eligible_levels]
    levels = tuple(dict.fromkeys([*COLLEGE_LEVELS, *campaign_levels]))
    roster = await asyncio.to_thread(read_roster, command.body, command.content_type, levels, limits.max_lines)
    async with uow:
        if await uow.schools.get(command.school_id, for_update=True) is None:
            raise unknown_school(command.school_id)
        matched = roster.matching(await uow.applications.submitted_students_of_school(command.school_id))
        await uow.rosters.replace(command.school_id, roster, at=now, by=actor.sub, matched=len(matched))
        validated: list[str] = []
        if command.validate_matched:
            for application_id in matched:
                found = await uow.applications.get(application_id, for_update=True)
                if found is not None and found.progress.status is ApplicationStatus.SUBMITTED:
                    await grant_pass(uow, found, actor, now)
                    validated.append(application_id)
    return RosterImported(roster, roster.rejected[:limits.rejected_shown], matched, validated)
