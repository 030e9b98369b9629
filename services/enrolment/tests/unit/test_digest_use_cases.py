"""The weekly digest of waiting files, on the in-memory unit of work."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from carnet_contracts.events import CorrespondentDigestDue
from enrolment.application import applications, digests, privacy, schools
from enrolment.domain import PARIS, DigestSchedule

from .test_use_cases import ADMIN, CORRESPONDENT_A, FAMILY, OTHER_FAMILY, form, uow  # noqa: F401 - `uow` is a fixture

MONDAY_8 = DigestSchedule("monday", 8)
SUNDAY = datetime(2014, 9, 14, 12, tzinfo=UTC)
MONDAY_7 = datetime(2014, 9, 15, 7, 59, tzinfo=PARIS)
MONDAY_9 = datetime(2014, 9, 15, 9, tzinfo=PARIS)


async def waiting(uow, actor, at, **student):
    return await applications.submit_online(uow, actor, applications.SubmitApplication(form(**student)), now=at)


async def test_the_digest_lists_a_schools_waiting_files_oldest_first_once_the_week_s_moment_has_come(uow):
    newer = await waiting(uow, FAMILY, datetime(2014, 9, 12, tzinfo=UTC))
    older = await waiting(uow, OTHER_FAMILY, datetime(2014, 9, 2, tzinfo=UTC), last_name="Martin", first_name="Paul")
    uow.committed.clear()
    assert (await digests.weekly_digests(uow, MONDAY_8, 10, now=MONDAY_7)).digests == []
    sent = await digests.weekly_digests(uow, MONDAY_8, 10, now=MONDAY_9)
    assert [(d.school_id, d.total_waiting, d.week) for d in sent.digests] == [("0920001A", 2, "2014-W38")]
    [due] = uow.committed
    assert isinstance(due, CorrespondentDigestDue)
    assert [f.application_id for f in due.waiting] == [older.application_id, newer.application_id]
    assert (due.correspondent_email, due.school_name, due.total_waiting) == ("cdt@0920001a.fr", "Collège Anatole France", 2)  # domain in lower case
    assert due.oldest_submitted_at == datetime(2014, 9, 2, tzinfo=UTC)
    assert due.due_at == datetime(2014, 9, 15, 8, tzinfo=PARIS)
    # The school without waiting files (0920002B) gets nothing; nor does anyone again this week.
    assert (await digests.weekly_digests(uow, MONDAY_8, 10, now=MONDAY_9 + timedelta(days=3))).digests == []
    assert len(uow.committed) == 1
    # Next week, again.
    assert len((await digests.weekly_digests(uow, MONDAY_8, 10, now=MONDAY_9 + timedelta(days=7))).digests) == 1


async def test_the_admin_sends_the_week_s_digests_now_and_forces_a_second_one(uow):
    await waiting(uow, FAMILY, datetime(2014, 9, 2, tzinfo=UTC))
    uow.committed.clear()
    now = datetime(2014, 9, 17, tzinfo=UTC)
    first = await digests.send_digests(uow, digests.SendDigests(10), due_at=now, now=now)
    assert [d.school_id for d in first.digests] == ["0920001A"]
    assert (await digests.send_digests(uow, digests.SendDigests(10), due_at=now, now=now)).digests == []
    forced = await digests.send_digests(uow, digests.SendDigests(10, force=True), due_at=now, now=now)
    assert [(d.school_id, d.forced) for d in forced.digests] == [("0920001A", True)]
    assert len(uow.committed) == 2
    # The periodic task of that week still counts the school as served.
    assert (await digests.weekly_digests(uow, MONDAY_8, 10, now=now)).digests == []


async def test_a_school_without_a_correspondent_address_or_with_only_decided_or_erased_files_gets_nothing(uow):
    await schools.register_school(uow, ADMIN, schools.RegisterSchool("0920002B", {
        "name": "Collège Jean Jaurès", "postcode": "92100", "city": "Boulogne"}))  # no address any more
    other = form(last_name="Roux", first_name="Emma")
    other["school_id"] = "0920002B"
    await applications.submit_online(uow, OTHER_FAMILY, applications.SubmitApplication(other), now=SUNDAY)
    decided = await waiting(uow, FAMILY, SUNDAY)
    await applications.validate_application(uow, CORRESPONDENT_A, decided.application_id, now=SUNDAY)
    erased = await waiting(uow, FAMILY, SUNDAY, last_name="Petit", first_name="Jules")
    await privacy.erase_guardian(uow, ADMIN, privacy.EraseGuardian("paul@example.fr"), now=SUNDAY)
    assert uow.state["applications"][erased.application_id].anonymised_at == SUNDAY
    assert (await digests.weekly_digests(uow, MONDAY_8, 10, now=MONDAY_9)).digests == []


async def test_a_digest_lists_the_oldest_files_and_counts_them_all(uow):
    for n, first_name in enumerate(("Anaïs", "Léa", "Noël")):
        await waiting(uow, FAMILY, datetime(2014, 9, 1 + n, tzinfo=UTC), first_name=first_name)
    uow.committed.clear()
    await digests.weekly_digests(uow, MONDAY_8, 2, now=MONDAY_9)
    [due] = uow.committed
    assert ([f.student_first_name for f in due.waiting], due.total_waiting) == (["Anaïs", "Léa"], 3)
