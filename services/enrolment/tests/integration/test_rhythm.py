"""The school's weekly rhythm on the real stack: the admin sends the week's digests now, and the figures
give the validation delay per school and the files still waiting."""

from __future__ import annotations

import pytest

from .conftest import unique_name

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def enrolment(stack):
    # The periodic task looks only once an hour here: the digests of this module are the admin's.
    service = stack.service("enrolment", env={"CARNET_ENROLMENT_DIGEST_CHECK_SECONDS": "3600"}).start(timeout=90)
    yield service
    service.stop()


async def test_the_admin_sends_the_weeks_digests_only_to_schools_with_waiting_files_and_an_address(world, stack, http):
    school_c = f"C{world.school_a[1:]}"
    await world.set_correspondent(world.school_a, "cdt.a@example.fr")
    await world.set_correspondent(world.school_b, "cdt.b@example.fr")  # nothing waiting there
    await world.set_correspondent(school_c, None)  # files waiting, but nobody to write to
    first, second = unique_name(), unique_name()
    older = await http.post("/v1/applications", headers=world.family, json=world.application(last_name=first))
    newer = await http.post(f"/v1/schools/{world.school_a}/paper-applications", headers=world.correspondent_a,
                            json=world.application(last_name=second))
    elsewhere = await http.post("/v1/applications", headers=world.other_family,
                                json=world.application(last_name=unique_name(), school_id=school_c))
    assert {older.status_code, newer.status_code, elsewhere.status_code} == {201}

    assert (await http.post("/v1/correspondent-digests", headers=world.correspondent_a)).status_code == 403
    r = await http.post("/v1/correspondent-digests", headers=world.admin)
    assert r.status_code == 202, r.text
    sent = {d["school_id"]: d for d in r.json()["digests"]}
    assert world.school_a in sent and sent[world.school_a]["total_waiting"] == 2
    assert world.school_b not in sent and school_c not in sent
    digest_id = sent[world.school_a]["digest_id"]

    due = await stack.wait_for_event("enrolment.schools", lambda m: m.get("event_type") == "CorrespondentDigestDue"
                                     and m["data"]["digest_id"] == digest_id)
    data = due["data"]
    assert data["correspondent_email"] == "cdt.a@example.fr" and data["week"] == r.json()["week"]
    assert [(f["student_last_name"], f["channel"]) for f in data["waiting"]] == [(first, "online"), (second, "paper")]
    assert data["total_waiting"] == 2

    # Once a week, unless forced.
    again = await http.post("/v1/correspondent-digests", headers=world.admin)
    assert world.school_a not in {d["school_id"] for d in again.json()["digests"]}
    forced = await http.post("/v1/correspondent-digests", params={"force": "true"}, headers=world.admin)
    assert world.school_a in {d["school_id"] for d in forced.json()["digests"]}


async def test_the_figures_give_the_validation_delay_per_school_and_the_files_still_waiting(world, http):
    ids = []
    for school_id, headers in ((world.school_a, world.family), (world.school_a, world.other_family),
                               (world.school_b, world.family)):
        r = await http.post("/v1/applications", headers=headers,
                            json=world.application(last_name=unique_name(), school_id=school_id))
        assert r.status_code == 201, r.text
        ids.append(r.json()["application_id"])
    r = await http.post(f"/v1/applications/{ids[0]}/validate", headers=world.correspondent_a)
    assert r.status_code == 200

    stats = (await http.get("/v1/stats", params={"campaign_id": world.campaign_id}, headers=world.admin)).json()
    assert stats["validation_delay_by_school"][world.school_a]["count"] == 1
    assert stats["validation_delay_by_school"][world.school_a]["max_days"] >= 0
    assert world.school_b not in stats["validation_delay_by_school"]
    assert stats["waiting"]["count"] == 2 and stats["waiting"]["oldest_days"] == 0
    assert {s: w["count"] for s, w in stats["waiting_by_school"].items()} == {world.school_a: 1, world.school_b: 1}
    assert stats["by_status"]["submitted"] == 2 and stats["validation_delay"]["count"] == 1  # today's fields kept
