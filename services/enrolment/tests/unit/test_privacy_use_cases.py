"""The purge after the season and a person's rights, on the in-memory unit of work: what each use case
anonymises, deletes, keeps and publishes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from carnet_contracts.events import CampaignPurgeStarted, GuardianErasureRequested
from carnet_runtime import Refusal
from carnet_runtime.auth import Principal
from enrolment.application import applications, campaigns, privacy, rosters

from .test_use_cases import (  # noqa: F401 - `uow` is a fixture
    ADMIN,
    CAMPAIGN,
    CORRESPONDENT_A,
    FAMILY,
    LIMITS,
    NOW,
    OTHER_FAMILY,
    form,
    submit,
    uow,
    wallet,
)

DUE = datetime(2015, 10, 28, 9, tzinfo=UTC)  # 30 April 2015 + 180 days are over
NOT_YET = datetime(2015, 10, 27, 9, tzinfo=UTC)


async def season(uow):
    """Three applications (one validated with its wallet, one rejected, one waiting) and a roster with
    a pupil who never applied."""
    granted = await submit(uow)
    rejected = await submit(uow, OTHER_FAMILY, last_name="Martin", first_name="Paul")
    waiting = await applications.submit_on_paper(uow, CORRESPONDENT_A, applications.SubmitPaperApplication(
        "0920001A", form(last_name="Çelik", first_name="Noël")), now=NOW)
    await rosters.import_roster(uow, CORRESPONDENT_A, rosters.ImportRoster(
        "0920001A", "Lefèvre;Anaïs;14/05/2003;6e\r\nDurand;Léa;14/05/2003;6e".encode(), "text/csv"), LIMITS, now=NOW)
    await applications.validate_application(uow, CORRESPONDENT_A, granted.application_id, now=NOW)
    await applications.record_wallet(uow, wallet(granted.application_id))
    await applications.reject_application(uow, CORRESPONDENT_A, applications.RejectApplication(
        rejected.application_id, "Élève inconnu"), now=NOW)
    uow.committed.clear()
    return granted, rejected, waiting


async def test_a_purge_before_the_retention_is_over_is_refused_and_changes_nothing(uow):
    await season(uow)
    with pytest.raises(Refusal) as refused:
        await privacy.purge_campaign(uow, privacy.PurgeCampaign("2014-2015", "admin"), now=NOT_YET)
    assert refused.value.code == "PURGE_NOT_DUE"
    assert refused.value.details["purge_due_from"] == "2015-10-28T00:00:00+01:00"
    assert uow.committed == [] and uow.state["purges"] == {}
    with pytest.raises(Refusal, match="^UNKNOWN_CAMPAIGN$"):
        await privacy.purge_campaign(uow, privacy.PurgeCampaign("no-such", "admin"), now=DUE)


async def test_the_purge_anonymises_the_applications_deletes_the_rosters_and_keeps_the_figures(uow):
    granted, _, waiting = await season(uow)
    before = await campaigns.campaign_figures(uow, "2014-2015", now=DUE)
    purge = await privacy.purge_campaign(uow, privacy.PurgeCampaign("2014-2015", "admin"), now=DUE)
    assert (purge.applications_anonymised, purge.roster_entries_deleted) == (3, 2)  # Léa never applied
    [announced] = uow.committed
    assert isinstance(announced, CampaignPurgeStarted)
    assert (announced.campaign_id, announced.purge_id, announced.purge_before) == ("2014-2015", purge.purge_id, DUE)
    assert await campaigns.campaign_figures(uow, "2014-2015", now=DUE) == before
    assert uow.state["rosters"] == {} and uow.state["roster_imports"] == []
    assert uow.state["forgotten_digests_of"] == ["2014-2015"]
    for a in uow.state["applications"].values():
        assert a.anonymised_at == DUE and a.family_sub is None
        assert (a.form.student.last_name, a.form.student.birth_date, a.form.guardian.email, a.form.address.line) == (
            "", None, "", "")
    kept = await applications.get_application(uow, ADMIN, granted.application_id)
    assert ([c.status.value for c in kept.progress.history], kept.progress.wallet_id, kept.form.student.level,
            kept.form.school_id) == (["submitted", "validated", "wallet_ready"], "w-1", "6e", "0920001A")
    with pytest.raises(Refusal, match="^APPLICATION_ANONYMISED$"):
        await applications.validate_application(uow, CORRESPONDENT_A, waiting.application_id, now=DUE)


async def test_a_campaign_is_purged_once_and_stays_listed_and_unchangeable(uow):
    await season(uow)
    first = await privacy.purge_campaign(uow, privacy.PurgeCampaign("2014-2015", "admin"), now=DUE)
    again = await privacy.purge_campaign(uow, privacy.PurgeCampaign("2014-2015", "admin"), now=DUE)
    assert again == first and len(uow.committed) == 1
    assert await privacy.purge_due_campaigns(uow, now=DUE) == [] and len(uow.committed) == 1
    [shown] = await campaigns.list_campaigns(uow)
    assert shown.purge == first
    unchanged = await campaigns.publish_campaign(uow, campaigns.PublishCampaign("2014-2015", CAMPAIGN))
    assert unchanged.purge == first
    with pytest.raises(Refusal, match="^CAMPAIGN_PURGED$"):
        await campaigns.publish_campaign(uow, campaigns.PublishCampaign("2014-2015", {
            **CAMPAIGN, "enrolment_closes": "2015-12-31", "pass_valid_until": "2016-03-31",
            "reimbursement_deadline": "2016-04-30"}))


async def test_the_periodic_check_purges_only_the_campaigns_due(uow):
    await campaigns.publish_campaign(uow, campaigns.PublishCampaign("2015-2016", {
        **CAMPAIGN, "enrolment_opens": "2015-06-01", "enrolment_closes": "2015-11-30", "pass_valid_until": "2016-03-31",
        "reimbursement_deadline": "2016-04-30"}))
    assert await privacy.purge_due_campaigns(uow, now=NOT_YET) == []
    [done] = await privacy.purge_due_campaigns(uow, now=DUE)
    assert (done.campaign_id, done.requested_by) == ("2014-2015", "schedule")
    assert [e.campaign_id for e in uow.committed if isinstance(e, CampaignPurgeStarted)] == ["2014-2015"]


async def test_an_erasure_anonymises_the_guardians_applications_and_tells_the_other_services(uow):
    granted, rejected, waiting = await season(uow)
    # The guardian's address as typed by someone else: case does not matter.
    erasure = await privacy.erase_guardian(uow, ADMIN, privacy.EraseGuardian("PAUL@EXAMPLE.FR"), now=DUE)
    erased = {granted.application_id, rejected.application_id, waiting.application_id}  # the same address on all
    assert set(erasure.application_ids) == erased
    assert (erasure.wallet_ids, set(erasure.family_subs), erasure.campaign_ids) == (
        ("w-1",), {FAMILY.sub, OTHER_FAMILY.sub}, ("2014-2015",))
    [told] = uow.committed
    assert isinstance(told, GuardianErasureRequested)
    assert (told.erasure_id, set(told.application_ids), told.wallet_ids) == (erasure.erasure_id, erased, ["w-1"])
    assert set(uow.state["forgotten_events"]) == erased
    assert all(a.anonymised_at == DUE for a in uow.state["applications"].values())
    # The children's roster lines go; the pupil who never applied stays until the campaign's purge.
    assert [e.first_name for e in uow.state["rosters"]["0920001A"].entries] == ["Léa"]
    [(recorded, by)] = uow.state["erasures"]
    assert (recorded.erasure_id, by) == (erasure.erasure_id, ADMIN.sub)


async def test_an_erasure_reaches_the_family_accounts_of_the_address_but_no_other_family(uow):
    own = await submit(uow)
    other_address = form(last_name="Petit", first_name="Jules")
    other_address["guardian"] = {**other_address["guardian"], "email": "autre@example.fr"}
    same_account = await applications.submit_online(uow, FAMILY, applications.SubmitApplication(other_address), now=NOW)
    stranger = form(last_name="Roux", first_name="Emma")
    stranger["guardian"] = {**stranger["guardian"], "email": "roux@example.fr"}
    untouched = await applications.submit_online(uow, OTHER_FAMILY, applications.SubmitApplication(stranger), now=NOW)
    erasure = await privacy.erase_guardian(uow, ADMIN, privacy.EraseGuardian("paul@example.fr"), now=DUE)
    assert set(erasure.application_ids) == {own.application_id, same_account.application_id}
    assert uow.state["applications"][untouched.application_id].anonymised_at is None


async def test_an_unknown_address_erases_nothing_and_publishes_nothing_and_a_malformed_one_is_named(uow):
    await season(uow)
    erasure = await privacy.erase_guardian(uow, ADMIN, privacy.EraseGuardian("personne@example.fr"), now=DUE)
    assert (erasure.application_ids, erasure.wallet_ids, erasure.family_subs) == ((), (), ())
    assert uow.committed == [] and all(a.anonymised_at is None for a in uow.state["applications"].values())
    with pytest.raises(Refusal) as refused:
        await privacy.erase_guardian(uow, ADMIN, privacy.EraseGuardian("personne"), now=DUE)
    assert refused.value.details["fields"][0]["field"] == "email"


async def test_a_family_exports_its_own_applications_with_their_history_and_roster_lines_only(uow):
    granted, rejected, _ = await season(uow)
    mine = await privacy.export(uow, FAMILY, "ignored@example.fr", now=DUE)
    assert [r.application.application_id for r in mine.applications] == [granted.application_id]
    [record] = mine.applications
    assert record.decided_by == CORRESPONDENT_A.sub and record.validated_at == NOW
    assert record.application.form.student.birth_date.isoformat() == "2003-05-14"
    assert [c.status.value for c in record.application.progress.history] == ["submitted", "validated", "wallet_ready"]
    assert [(e.last_name, e.campaign_id) for e in mine.roster_entries] == [("Lefèvre", "2014-2015")]
    assert mine.family_sub == FAMILY.sub and mine.email is None


async def test_the_admin_exports_a_guardian_by_address_paper_applications_included(uow):
    _, _, waiting = await season(uow)
    found = await privacy.export(uow, ADMIN, "Paul@example.fr", now=DUE)
    assert waiting.application_id in [r.application.application_id for r in found.applications]
    paper = next(r for r in found.applications if r.application.application_id == waiting.application_id)
    assert paper.entered_by == CORRESPONDENT_A.sub and paper.application.channel == "paper"
    with pytest.raises(Refusal, match="^VALIDATION_ERROR$"):
        await privacy.export(uow, ADMIN, None, now=DUE)
    with pytest.raises(Refusal, match="^FORBIDDEN$"):
        await privacy.export(uow, Principal("c", "correspondent", school_id="0920001A"), None, now=DUE)
