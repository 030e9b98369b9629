"""The periodic work on the real stack: the week's digests once their day and hour have come (set to
today, midnight, here), and the purge of a campaign once its retention is over."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from enrolment.domain import PARIS, WEEKDAYS

from .conftest import unique_name

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def enrolment(stack):
    today = WEEKDAYS[datetime.now(UTC).astimezone(PARIS).weekday()]
    service = stack.service("enrolment", env={
        "CARNET_ENROLMENT_DIGEST_WEEKDAY": today, "CARNET_ENROLMENT_DIGEST_HOUR": "0",
        "CARNET_ENROLMENT_DIGEST_CHECK_SECONDS": "0.5", "CARNET_ENROLMENT_PURGE_CHECK_SECONDS": "0.5",
    }).start(timeout=90)
    yield service
    service.stop()


def digests_of(messages, school_id):
    return [m for m in messages if m.get("event_type") == "CorrespondentDigestDue" and m["data"]["school_id"] == school_id]


async def test_the_weekly_digest_goes_once_to_a_school_with_waiting_files_and_never_to_one_without(world, stack, http):
    school_c = f"C{world.school_a[1:]}"
    for school_id in (world.school_a, world.school_b, school_c):
        await world.set_correspondent(school_id, f"cdt.{school_id.lower()}@example.fr")
    name = unique_name()
    r = await http.post("/v1/applications", headers=world.family, json=world.application(last_name=name))
    assert r.status_code == 201
    first = await stack.wait_for_event("enrolment.schools", lambda m: digests_of([m], world.school_a))
    assert [f["student_last_name"] for f in first["data"]["waiting"]] == [name]

    # A file for school C after A's digest: C's digest comes from a later run of the task, which is the
    # barrier after which A must still have had one digest only, and B (nothing waiting) none.
    r = await http.post("/v1/applications", headers=world.other_family,
                        json=world.application(last_name=unique_name(), school_id=school_c))
    assert r.status_code == 201
    seen = await stack.events("enrolment.schools", timeout=30, until=lambda found: digests_of(found, school_c))
    assert len(digests_of(seen, school_c)) == 1
    assert len(digests_of(seen, world.school_a)) == 1
    assert digests_of(seen, world.school_b) == []


async def test_a_campaign_past_its_retention_is_purged_by_the_periodic_check(world, stack, http):
    r = await http.post("/v1/applications", headers=world.family, json=world.application(last_name=unique_name()))
    application_id = r.json()["application_id"]
    assert (await world.end_season(data_retention_days=0)).status_code == 200
    started = await stack.wait_for_event("enrolment.campaigns", lambda m: m.get("event_type") == "CampaignPurgeStarted"
                                         and m["data"]["campaign_id"] == world.campaign_id)
    seen = (await http.get(f"/v1/campaigns/{world.campaign_id}", headers=world.admin)).json()
    assert seen["purge_id"] == started["data"]["purge_id"] and seen["purged_at"]
    gone = (await http.get(f"/v1/applications/{application_id}", headers=world.admin)).json()
    assert gone["anonymised_at"] and gone["student"]["last_name"] is None and gone["guardian"] is None
