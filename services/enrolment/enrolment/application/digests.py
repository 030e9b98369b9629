"""The school's weekly rhythm: each correspondent's digest of the files waiting for them, oldest first,
once per school and ISO week, only for a school with a correspondent address and waiting files."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from carnet_contracts.events import CorrespondentDigestDue
from carnet_contracts.events import WaitingFile as WaitingFilePart

from ..domain import Digest, DigestSchedule, iso_week
from ..store import EnrolmentUnitOfWork


@dataclass(frozen=True)
class SendDigests:
    max_listed: int  # the digest lists the oldest files; `total_waiting` counts them all
    force: bool = False  # another digest this week, for a school that already had one


@dataclass(frozen=True)
class DigestsSent:
    week: str
    digests: list[Digest]


async def weekly_digests(uow: EnrolmentUnitOfWork, schedule: DigestSchedule, max_listed: int, *,
                         now: datetime) -> DigestsSent:
    """The periodic task: once this week's day and hour (Europe/Paris) have come, each school that
    has not had its digest this week gets it."""
    if not schedule.is_due(now):
        return DigestsSent(iso_week(now), [])
    return await send_digests(uow, SendDigests(max_listed), due_at=schedule.due_at(now), now=now)


async def send_digests(uow: EnrolmentUnitOfWork, command: SendDigests, *, due_at: datetime,
                       now: datetime) -> DigestsSent:
    """This week's digests now (the admin's request, or the periodic task once due), in one transaction:
    the record of each (which keeps it to once a week) and its event leave together."""
    week = iso_week(now)
    sent: list[Digest] = []
    async with uow:
        waiting = await uow.applications.waiting_counts()
        already = set() if command.force else await uow.digests.schools_sent(week)
        for school in await uow.schools.list():
            total = waiting.get(school.school_id, 0)
            if not school.correspondent_email or total == 0 or school.school_id in already:
                continue
            files = await uow.applications.waiting_of_school(school.school_id, command.max_listed)
            digest = Digest(str(uuid.uuid4()), school.school_id, week, due_at, now, total, command.force)
            if not await uow.digests.add(digest):
                continue  # sent meanwhile by another request
            uow.publish(CorrespondentDigestDue(
                digest_id=digest.digest_id, school_id=school.school_id, school_name=school.name,
                correspondent_email=school.correspondent_email, week=week,
                waiting=[WaitingFilePart(application_id=f.application_id, student_last_name=f.student_last_name,
                                         student_first_name=f.student_first_name, channel=f.channel,  # type: ignore[arg-type]
                                         submitted_at=f.submitted_at) for f in files],
                total_waiting=total, oldest_submitted_at=files[0].submitted_at, due_at=due_at,
            ))
            sent.append(digest)
    return DigestsSent(week, sent)
