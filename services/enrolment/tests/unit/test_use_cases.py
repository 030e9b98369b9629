"""The enrolment's use cases against an in-memory unit of work: what each publishes, stores and refuses."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime

import pytest

from carnet_contracts.events import (
    ApplicationRejected,
    ApplicationSubmitted,
    CampaignPublished,
    PassGranted,
    SchoolRegistered,
    WalletCreated,
)
from carnet_runtime import Refusal
from carnet_runtime.auth import Principal
from enrolment.application import applications, campaigns, rosters, schools
from enrolment.domain import read_roster

from .fakes import FakeEnrolmentUnitOfWork

NOW = datetime(2014, 9, 15, 10, tzinfo=UTC)
ADMIN = Principal("admin-1", "admin")
FAMILY = Principal("family-1", "family")
OTHER_FAMILY = Principal("family-2", "family")
CORRESPONDENT_A = Principal("cdt-a", "correspondent", school_id="0920001A")
CORRESPONDENT_B = Principal("cdt-b", "correspondent", school_id="0920002B")
CAMPAIGN = {"label": "Pass 2014-2015", "enrolment_opens": "2014-06-01", "enrolment_closes": "2014-11-30",
            "pass_valid_until": "2015-03-31", "reimbursement_deadline": "2015-04-30"}
LIMITS = rosters.RosterLimits(max_lines=50, rejected_shown=3)


def form(**student) -> dict:
    return {
        "campaign_id": "2014-2015", "school_id": "0920001A",
        "student": {"last_name": "Lefèvre", "first_name": "Anaïs", "birth_date": "2003-05-14", "level": "6e", **student},
        "guardian": {"last_name": "Lefèvre", "first_name": "Paul", "email": "paul@example.fr"},
        "address": {"line": "1 rue de la Paix", "postcode": "92100", "city": "Boulogne-Billancourt"},
    }


@pytest.fixture
async def uow() -> FakeEnrolmentUnitOfWork:
    uow = FakeEnrolmentUnitOfWork()
    await campaigns.publish_campaign(uow, campaigns.PublishCampaign("2014-2015", CAMPAIGN))
    for school_id, name in (("0920001A", "Collège Anatole France"), ("0920002B", "Collège Jean Jaurès")):
        await schools.register_school(uow, ADMIN, schools.RegisterSchool(school_id, {
            "name": name, "postcode": "92100", "city": "Boulogne", "correspondent_email": f"cdt@{school_id}.fr"}))
    uow.committed.clear()
    uow.blocks = 0
    return uow


async def submit(uow, actor=FAMILY, **student):
    return await applications.submit_online(uow, actor, applications.SubmitApplication(form(**student)), now=NOW)


async def test_a_campaign_published_again_unchanged_publishes_nothing_and_a_change_publishes_it(uow):
    await campaigns.publish_campaign(uow, campaigns.PublishCampaign("2014-2015", CAMPAIGN))
    assert uow.committed == []
    await campaigns.publish_campaign(uow, campaigns.PublishCampaign("2014-2015", {**CAMPAIGN, "allowance_cents": 8000}))
    assert [(type(e), e.allowance_cents) for e in uow.committed] == [(CampaignPublished, 8000)]


async def test_a_school_registered_publishes_its_correspondent_address_and_only_the_admin_sees_it(uow):
    changed = await schools.register_school(uow, ADMIN, schools.RegisterSchool("0920001A", {
        "name": "Collège Anatole France", "postcode": "92100", "city": "Boulogne", "correspondent_email": "new@ac.fr"}))
    assert changed.with_staff
    assert [(type(e), e.correspondent_email) for e in uow.committed] == [(SchoolRegistered, "new@ac.fr")]
    for actor in (FAMILY, CORRESPONDENT_A, Principal("a-1", "affiliate", affiliate_id="a-1")):
        assert not any(s.with_staff for s in await schools.list_schools(uow, actor))
        assert not (await schools.get_school(uow, actor, "0920001A")).with_staff
    assert all(s.with_staff for s in await schools.list_schools(uow, ADMIN))


async def test_submitting_publishes_application_submitted_with_the_family(uow):
    application = await submit(uow)
    assert application.progress.status.value == "submitted"
    assert application.family_sub == FAMILY.sub and application.channel == "online"
    [event] = uow.committed
    assert isinstance(event, ApplicationSubmitted)
    assert (event.application_id, event.family_sub, event.student.level) == (application.application_id, FAMILY.sub, "6e")


@pytest.mark.parametrize(("changes", "code"), [
    ({"address": {"line": "1 rue", "postcode": "75015", "city": "Paris"}}, "NOT_RESIDENT"),
    ({"campaign_id": "no-such-campaign"}, "UNKNOWN_CAMPAIGN"),
    ({"school_id": "no-such-school"}, "UNKNOWN_SCHOOL"),
    ({"guardian": {"last_name": "L", "first_name": "P", "email": "nope"}}, "VALIDATION_ERROR"),
])
async def test_a_refused_application_stores_and_publishes_nothing(uow, changes, code):
    with pytest.raises(Refusal) as refused:
        await applications.submit_online(uow, FAMILY, applications.SubmitApplication({**form(), **changes}), now=NOW)
    assert refused.value.code == code
    assert uow.state["applications"] == {} and uow.committed == []


async def test_a_second_application_for_the_same_student_is_a_duplicate(uow):
    await submit(uow)
    with pytest.raises(Refusal, match="^DUPLICATE_APPLICATION$"):
        await submit(uow, OTHER_FAMILY, last_name="LEFEVRE", first_name="anais")
    assert len(uow.state["applications"]) == 1 and len(uow.committed) == 1


async def test_a_paper_application_is_entered_by_its_own_school_only(uow):
    paper = await applications.submit_on_paper(uow, CORRESPONDENT_A, applications.SubmitPaperApplication(
        "0920001A", {k: v for k, v in form().items() if k != "school_id"}), now=NOW)
    assert (paper.channel, paper.family_sub, paper.form.school_id) == ("paper", None, "0920001A")
    assert uow.state["entered_by"][paper.application_id] == CORRESPONDENT_A.sub
    with pytest.raises(Refusal, match="^NOT_SCHOOL_CORRESPONDENT$"):
        await applications.submit_on_paper(uow, CORRESPONDENT_B, applications.SubmitPaperApplication("0920001A", form()),
                                           now=NOW)
    with pytest.raises(Refusal) as refused:
        await applications.submit_on_paper(uow, CORRESPONDENT_B, applications.SubmitPaperApplication(
            "0920002B", form(first_name="Zoé")), now=NOW)
    assert refused.value.details["fields"] == [{"field": "school_id", "problem": "doit être le collège du correspondant"}]


async def test_only_the_family_its_school_and_the_admin_read_an_application(uow):
    application = await submit(uow)
    for actor in (FAMILY, CORRESPONDENT_A, ADMIN):
        assert (await applications.get_application(uow, actor, application.application_id)) == application
    for actor in (OTHER_FAMILY, CORRESPONDENT_B):
        with pytest.raises(Refusal, match="^FORBIDDEN$"):
            await applications.get_application(uow, actor, application.application_id)
    with pytest.raises(Refusal, match="^UNKNOWN_APPLICATION$"):
        await applications.get_application(uow, ADMIN, "nope")
    assert await applications.list_applications(uow, OTHER_FAMILY) == []


async def test_validating_grants_the_pass_with_the_campaign_terms_and_only_for_its_school(uow):
    application = await submit(uow)
    uow.committed.clear()
    with pytest.raises(Refusal, match="^NOT_SCHOOL_CORRESPONDENT$"):
        await applications.validate_application(uow, CORRESPONDENT_B, application.application_id, now=NOW)
    assert uow.committed == []
    validated = await applications.validate_application(uow, CORRESPONDENT_A, application.application_id, now=NOW)
    assert validated.progress.status.value == "validated"
    [granted] = uow.committed
    assert isinstance(granted, PassGranted)
    assert (granted.allowance_cents, granted.tickets_per_pass, granted.pass_valid_until) == (7000, 7, date(2015, 3, 31))
    assert uow.state["decided_by"][application.application_id] == CORRESPONDENT_A.sub
    with pytest.raises(Refusal, match="^APPLICATION_NOT_PENDING$"):
        await applications.validate_application(uow, CORRESPONDENT_A, application.application_id, now=NOW)
    assert len(uow.committed) == 1


async def test_rejecting_needs_a_reason_and_publishes_it(uow):
    application = await submit(uow)
    uow.committed.clear()
    with pytest.raises(Refusal, match="^VALIDATION_ERROR$"):
        await applications.reject_application(uow, CORRESPONDENT_A, applications.RejectApplication(
            application.application_id, None), now=NOW)
    assert uow.committed == []
    rejected = await applications.reject_application(uow, CORRESPONDENT_A, applications.RejectApplication(
        application.application_id, "Élève inconnu du collège"), now=NOW)
    assert rejected.progress.rejection_reason == "Élève inconnu du collège"
    [event] = uow.committed
    assert isinstance(event, ApplicationRejected) and event.reason == "Élève inconnu du collège"


def wallet(application_id: str, wallet_id: str = "w-1") -> WalletCreated:
    return WalletCreated(wallet_id=wallet_id, application_id=application_id, campaign_id="2014-2015",
                         family_sub=FAMILY.sub, ticket_count=7, allowance_cents=7000, valid_until=date(2015, 3, 31),
                         student_first_name="Anaïs", guardian_email="paul@example.fr", created_at=NOW)


async def test_the_wallet_announced_makes_the_application_wallet_ready_once(uow):
    application = await submit(uow)
    await applications.validate_application(uow, CORRESPONDENT_A, application.application_id, now=NOW)
    await applications.record_wallet(uow, wallet(application.application_id))
    await applications.record_wallet(uow, wallet(application.application_id))
    ready = await applications.get_application(uow, FAMILY, application.application_id)
    assert ready.progress.wallet_id == "w-1"
    assert [c.status.value for c in ready.progress.history] == ["submitted", "validated", "wallet_ready"]
    with pytest.raises(Refusal, match="^WALLET_ALREADY_RECORDED$"):
        await applications.record_wallet(uow, wallet(application.application_id, "w-2"))
    with pytest.raises(Refusal, match="^UNKNOWN_APPLICATION$"):
        await applications.record_wallet(uow, wallet("no-such-application"))


def roster(*lines: str) -> rosters.ImportRoster:
    return rosters.ImportRoster("0920001A", "\r\n".join(lines).encode(), "text/csv", validate_matched=True)


async def test_a_roster_validates_the_matched_applications_and_lists_only_the_first_bad_lines(uow):
    on_roster = await submit(uow)
    not_on_roster = await submit(uow, OTHER_FAMILY, last_name="Martin", first_name="Paul")
    uow.committed.clear()
    bad = [f"Durand {n};;14/05/2003;6e" for n in range(5)]
    done = await rosters.import_roster(uow, CORRESPONDENT_A, roster("Lefèvre;Anaïs;14/05/2003;6e", *bad), LIMITS, now=NOW)
    assert done.matched == done.validated == [on_roster.application_id]
    assert [type(e) for e in uow.committed] == [PassGranted]
    assert [r.line for r in done.rejected] == [2, 3, 4]
    assert (done.rejected_count, done.rejected_truncated) == (5, True)
    assert uow.state["roster_imports"][-1][3:] == (1, 5, 1)
    still = await applications.get_application(uow, CORRESPONDENT_A, not_on_roster.application_id)
    assert still.progress.status.value == "submitted" and not still.on_roster


async def test_a_roster_longer_than_the_cap_is_refused_whole_and_changes_nothing(uow):
    await submit(uow)
    uow.committed.clear()
    with pytest.raises(Refusal) as refused:
        await rosters.import_roster(uow, CORRESPONDENT_A, roster(*["Lefèvre;Anaïs;14/05/2003;6e"] * 51), LIMITS, now=NOW)
    assert (refused.value.code, refused.value.details) == ("ROSTER_TOO_LARGE", {"lines": 51, "max_lines": 50})
    assert uow.state["rosters"] == {} and uow.state["roster_imports"] == [] and uow.committed == []


async def test_a_roster_line_with_a_control_or_bidirectional_character_is_a_rejected_line(uow):
    done = await rosters.import_roster(uow, CORRESPONDENT_A, roster(
        "Lefèvre;Anaïs;14/05/2003;6e", "Nul\x00;Léa;14/05/2003;6e", "Martin;\u202eluaP;14/05/2003;6e"), LIMITS, now=NOW)
    assert [e.line for e in done.roster.entries] == [1]
    assert [(r.line, "U+0000" in r.reason, "U+202E" in r.reason) for r in done.rejected] == [
        (2, True, False), (3, False, True)]


async def test_only_the_school_correspondent_imports_its_roster(uow):
    with pytest.raises(Refusal, match="^NOT_SCHOOL_CORRESPONDENT$"):
        await rosters.import_roster(uow, CORRESPONDENT_B, roster("Lefèvre;Anaïs;14/05/2003;6e"), LIMITS, now=NOW)
    assert uow.blocks == 0


async def test_the_roster_file_is_read_in_a_worker_thread_not_on_the_event_loop(uow, monkeypatch):
    loop_thread = threading.get_ident()
    read_in: list[int] = []

    def read_and_note(*args):
        read_in.append(threading.get_ident())
        return read_roster(*args)

    monkeypatch.setattr(rosters, "read_roster", read_and_note)
    await rosters.import_roster(uow, CORRESPONDENT_A, roster("Lefèvre;Anaïs;14/05/2003;6e"), LIMITS, now=NOW)
    assert read_in and read_in[0] != loop_thread
