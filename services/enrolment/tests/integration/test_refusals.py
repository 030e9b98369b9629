"""Every refusal of an application over HTTP: its code, its status, and that it changes nothing."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

import pytest

from enrolment.domain import PARIS

pytestmark = pytest.mark.integration


async def test_each_refusal_has_its_code_and_changes_nothing(world, http):
    first = await http.post("/v1/applications", headers=world.family, json=world.application())
    assert first.status_code == 201, first.text

    closed_id = f"{world.campaign_id}-closed"
    today = datetime.now(UTC).astimezone(PARIS).date()
    r = await http.put(f"/v1/campaigns/{closed_id}", headers=world.admin, json={
        "label": "Pass fermé", "enrolment_opens": (today - timedelta(days=60)).isoformat(),
        "enrolment_closes": (today - timedelta(days=1)).isoformat(),
        "pass_valid_until": (today + timedelta(days=100)).isoformat(),
        "reimbursement_deadline": (today + timedelta(days=130)).isoformat()})
    assert r.status_code == 200

    def app(**changes):
        body = world.application(first_name="Hugo")
        for section, values in changes.items():
            body[section] = {**body[section], **values} if isinstance(values, dict) else values
        return body

    five_year_old = date(world.calendar.school_year_start.year - 5, 1, 1)  # too young, whatever the year
    cases = [
        (app(address={"postcode": "75015"}), 422, "NOT_RESIDENT"),
        (app(campaign_id=closed_id), 409, "ENROLMENT_CLOSED"),
        (app(student={"level": "2nde"}), 422, "LEVEL_NOT_ELIGIBLE"),
        (app(student={"birth_date": five_year_old.isoformat()}), 422, "BIRTH_DATE_IMPLAUSIBLE"),
        (app(campaign_id="no-such-campaign"), 404, "UNKNOWN_CAMPAIGN"),
        (app(school_id="no-such-school"), 404, "UNKNOWN_SCHOOL"),
        (app(student={"birth_date": "14/03/2003"}, guardian={"email": "nope"}), 422, "VALIDATION_ERROR"),
        (world.application(last_name="  LEFEVRE ", first_name="anais"), 409, "DUPLICATE_APPLICATION"),
    ]
    for body, status, code in cases:
        r = await http.post("/v1/applications", headers=world.family, json=body)
        assert (r.status_code, r.json()["error"]["code"]) == (status, code), r.text
        assert r.json()["error"]["message"]
    invalid = await http.post("/v1/applications", headers=world.family, json=cases[6][0])
    fields = {f["field"] for f in invalid.json()["error"]["details"]["fields"]}
    assert fields == {"student.birth_date", "guardian.email"}

    assert (await http.post("/v1/applications", json=world.application())).status_code == 401
    assert (await http.post("/v1/applications", headers=world.correspondent_a, json=world.application())).status_code == 403

    mine = (await http.get("/v1/applications", headers=world.family)).json()
    assert [a["application_id"] for a in mine] == [first.json()["application_id"]]
    stats = (await http.get(f"/v1/stats?campaign_id={world.campaign_id}", headers=world.admin)).json()
    assert stats["total"] == 1


async def test_campaign_settings_are_checked_and_shown(world, http):
    cal = world.calendar  # enrolment closing before it opens
    r = await http.put(f"/v1/campaigns/{world.campaign_id}-bad", headers=world.admin,
                       json={"label": "x", "enrolment_opens": cal.enrolment_opens.isoformat(),
                             "enrolment_closes": (cal.enrolment_opens - timedelta(days=31)).isoformat(),
                             "pass_valid_until": cal.pass_valid_until.isoformat(),
                             "reimbursement_deadline": cal.reimbursement_deadline.isoformat()})
    assert r.status_code == 422 and r.json()["error"]["code"] == "CAMPAIGN_CALENDAR_INVALID"
    r = await http.get(f"/v1/campaigns/{world.campaign_id}", headers=world.family)
    assert r.status_code == 200
    assert r.json()["eligible_levels"] == ["6e", "5e", "4e", "3e"]
    assert r.json()["redemption_cancel_grace_minutes"] == 20
    assert (await http.get("/v1/campaigns/nope", headers=world.family)).json()["error"]["code"] == "UNKNOWN_CAMPAIGN"
    assert (await http.put(f"/v1/campaigns/{world.campaign_id}", headers=world.family, json={})).status_code == 403


async def test_two_racing_applications_for_one_student_make_one_application(world, http):
    bodies = [world.application(last_name="Saint-Exupéry", first_name="Zoé"),
              world.application(last_name="saint exupery", first_name="ZOE")]
    answers = await asyncio.gather(*(http.post("/v1/applications", headers=world.family, json=b) for b in bodies))
    assert sorted(r.status_code for r in answers) == [201, 409]
    assert [r.json()["error"]["code"] for r in answers if r.status_code == 409] == ["DUPLICATE_APPLICATION"]


async def test_operations_endpoints_and_contract_documents_are_served(http):
    assert (await http.get("/health/live")).status_code == 200
    assert (await http.get("/health/ready")).json()["status"] == "ready"
    assert "carnet_http_request_duration_seconds" in (await http.get("/metrics")).text
    paths = (await http.get("/openapi.json")).json()["paths"]
    assert {"/v1/applications", "/v1/schools/{school_id}/roster", "/v1/stats"} <= set(paths)
    assert (await http.get("/asyncapi.json")).status_code == 200


async def test_an_internationalised_address_is_accepted_and_an_undeliverable_one_refused_naming_the_field(world, stack, http):
    r = await http.post("/v1/applications", headers=world.family,
                        json=world.application(first_name="Élodie", email="élodie.durand@Example.FR"))
    assert r.status_code == 201, r.text
    assert r.json()["guardian"]["email"] == "élodie.durand@example.fr"
    submitted = await stack.wait_for_event("enrolment.applications", lambda m: m.get("event_type") == "ApplicationSubmitted"
                                           and m["data"]["application_id"] == r.json()["application_id"])
    assert submitted["data"]["guardian"]["email"] == "élodie.durand@example.fr"

    for address in ("parent@localhost", "parent@ecole.test", '"parent lefevre"@example.fr', "parent-at-example.fr"):
        refused = await http.post("/v1/applications", headers=world.family,
                                  json=world.application(first_name="Jules", email=address))
        assert (refused.status_code, refused.json()["error"]["code"]) == (422, "VALIDATION_ERROR"), refused.text
        [problem] = refused.json()["error"]["details"]["fields"]
        assert problem["field"] == "guardian.email"
        assert "prenom.nom@exemple.fr" in problem["problem"]  # the French reason shows what an address looks like
    school = await http.put(f"/v1/schools/{world.school_b}", headers=world.admin, json={
        "name": "Collège Jean Jaurès", "postcode": "92100", "city": "Boulogne", "correspondent_email": "cdt@localhost"})
    assert school.status_code == 422
    assert school.json()["error"]["details"]["fields"][0]["field"] == "correspondent_email"
