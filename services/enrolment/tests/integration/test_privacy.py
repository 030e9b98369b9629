"""The purge after the season and a person's rights, on the real PostgreSQL and Kafka."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import asyncpg
import pytest

from carnet_contracts.events import WalletCreated
from carnet_local.testing import poll_database

from .conftest import database_of, unique_name

pytestmark = pytest.mark.integration


async def wallet_ready(world, stack, http, application_id: str, family_sub: str | None) -> str:
    wallet_id = f"w-{uuid.uuid4().hex[:8]}"
    await stack.publish(WalletCreated(
        wallet_id=wallet_id, application_id=application_id, campaign_id=world.campaign_id, family_sub=family_sub,
        ticket_count=7, allowance_cents=7000, valid_until=world.calendar.pass_valid_until, student_first_name="Anaïs",
        guardian_email="parent@example.fr", created_at=datetime.now(UTC)), producer="wallet")
    return wallet_id


async def test_the_purge_anonymises_the_season_deletes_its_rosters_and_keeps_its_figures(world, stack, http, enrolment):
    names = [unique_name() for _ in range(4)]
    granted = await http.post("/v1/applications", headers=world.family, json=world.application(last_name=names[0]))
    rejected = await http.post("/v1/applications", headers=world.other_family, json=world.application(last_name=names[1]))
    waiting = await http.post(f"/v1/schools/{world.school_a}/paper-applications", headers=world.correspondent_a,
                              json=world.application(last_name=names[2], phone="06 11 22 33 44"))
    assert {granted.status_code, rejected.status_code, waiting.status_code} == {201}
    born = world.birth_date.strftime("%d/%m/%Y")
    roster = f"{names[0]};Anaïs;{born};6e\r\n{names[3]};Léa;{born};6e\r\n".encode()  # Léa never applied
    r = await http.post(f"/v1/schools/{world.school_a}/roster", headers={**world.correspondent_a, "Content-Type": "text/csv"},
                        content=roster, params={"validate_matched": "true"})
    assert r.json()["validated"] == [granted.json()["application_id"]]
    await http.post(f"/v1/applications/{rejected.json()['application_id']}/reject", headers=world.correspondent_a,
                    json={"reason": f"Pas au collège {names[1]}"})

    # The school's digest lists the waiting file by name: its sent outbox row must go at the purge too.
    await world.set_correspondent(world.school_a, "cdt.a@example.fr")
    digest = await http.post("/v1/correspondent-digests", params={"force": "true"}, headers=world.admin)
    assert world.school_a in {d["school_id"] for d in digest.json()["digests"]}
    url = database_of(enrolment)
    await poll_database(url, "SELECT NOT EXISTS (SELECT 1 FROM outbox WHERE state = 'pending')")

    too_early = await http.post(f"/v1/campaigns/{world.campaign_id}/purge", headers=world.admin)
    assert (too_early.status_code, too_early.json()["error"]["code"]) == (409, "PURGE_NOT_DUE")
    assert too_early.json()["error"]["details"]["data_retention_days"] == 180
    assert "purge_due_from" in too_early.json()["error"]["details"]
    assert (await http.post(f"/v1/campaigns/{world.campaign_id}/purge", headers=world.family)).status_code == 403

    ended = await world.end_season(data_retention_days=0)
    assert ended.status_code == 200 and ended.json()["data_retention_days"] == 0
    published = await stack.wait_for_event("enrolment.campaigns", lambda m: m.get("event_type") == "CampaignPublished"
                                           and m["data"]["campaign_id"] == world.campaign_id
                                           and m["data"]["data_retention_days"] == 0)
    assert published["data"]["reimbursement_deadline"] == ended.json()["reimbursement_deadline"]
    before = (await http.get("/v1/stats", params={"campaign_id": world.campaign_id}, headers=world.admin)).json()

    r = await http.post(f"/v1/campaigns/{world.campaign_id}/purge", headers=world.admin)
    assert r.status_code == 202, r.text
    purge = r.json()
    assert (purge["applications_anonymised"], purge["roster_entries_deleted"]) == (3, 2)
    again = await http.post(f"/v1/campaigns/{world.campaign_id}/purge", headers=world.admin)
    assert (again.status_code, again.json()["purge_id"]) == (202, purge["purge_id"])

    # Figures: the same. The campaign: still listed, with its purge.
    after = (await http.get("/v1/stats", params={"campaign_id": world.campaign_id}, headers=world.admin)).json()
    assert after == before
    listed = {c["campaign_id"]: c for c in (await http.get("/v1/campaigns", headers=world.admin)).json()}
    assert listed[world.campaign_id]["purge_id"] == purge["purge_id"]
    changed = await world.end_season(data_retention_days=30)
    assert (changed.status_code, changed.json()["error"]["code"]) == (409, "CAMPAIGN_PURGED")

    # Announced once: a later event on the same one-partition topic is the barrier.
    r = await http.put(f"/v1/campaigns/{world.campaign_id}-next", headers=world.admin, json={
        "label": "Suivante", "enrolment_opens": "2030-06-01", "enrolment_closes": "2030-11-30",
        "pass_valid_until": "2031-03-31", "reimbursement_deadline": "2031-04-30"})
    assert r.status_code == 200
    seen = await stack.events("enrolment.campaigns", until=lambda found: any(
        m["data"].get("campaign_id") == f"{world.campaign_id}-next" for m in found))
    started = [m for m in seen if m["event_type"] == "CampaignPurgeStarted" and m["data"]["campaign_id"] == world.campaign_id]
    assert [m["data"]["purge_id"] for m in started] == [purge["purge_id"]]

    # What stays of an application: status, dates, school, level, channel, history.
    kept = (await http.get(f"/v1/applications/{granted.json()['application_id']}", headers=world.admin)).json()
    assert kept["student"] == {"last_name": None, "first_name": None, "birth_date": None, "level": "6e"}
    assert (kept["guardian"], kept["address"], kept["status"]) == (None, None, "validated")
    assert [h["status"] for h in kept["history"]] == ["submitted", "validated"]
    assert (await http.get("/v1/applications", headers=world.family)).json() == []
    validate = await http.post(f"/v1/applications/{waiting.json()['application_id']}/validate", headers=world.correspondent_a)
    assert validate.json()["error"]["code"] == "APPLICATION_ANONYMISED"

    # No name, birth date, phone or address of the season left in enrolment's tables, outbox included
    # (its sent rows go when enrolment reads its own CampaignPurgeStarted).
    pattern = "|".join(names)
    await poll_database(url, "SELECT NOT EXISTS (SELECT 1 FROM outbox o WHERE o.envelope::text ~ $1)", pattern)
    conn = await asyncpg.connect(url)
    try:
        for table in ("applications", "application_history", "roster_entries", "roster_imports", "campaign_purges"):
            rows = await conn.fetch(f"SELECT t::text AS row FROM {table} t")
            assert not [r["row"] for r in rows if any(n in r["row"] for n in names)], table
            assert not [r["row"] for r in rows if "06 11 22 33 44" in r["row"]], table
        assert await conn.fetchval("SELECT count(*) FROM roster_entries WHERE school_id = $1", world.school_a) == 0
    finally:
        await conn.close()


async def test_a_family_exports_its_own_data_and_the_admin_a_guardians_by_address(world, stack, http):
    email = f"{unique_name().lower()}@example.fr"
    online = await http.post("/v1/applications", headers=world.family,
                             json=world.application(last_name=unique_name(), email=email, phone="0611223344"))
    paper = await http.post(f"/v1/schools/{world.school_a}/paper-applications", headers=world.correspondent_a,
                            json=world.application(last_name=unique_name(), email=email.upper()))
    other = await http.post("/v1/applications", headers=world.other_family, json=world.application(last_name=unique_name()))
    assert {online.status_code, paper.status_code, other.status_code} == {201}
    await http.post(f"/v1/applications/{online.json()['application_id']}/validate", headers=world.correspondent_a)

    mine = (await http.get("/v1/privacy/export", headers=world.family)).json()
    assert [a["application_id"] for a in mine["applications"]] == [online.json()["application_id"]]
    [record] = mine["applications"]
    assert record["student"]["birth_date"] == world.birth_date.isoformat() and record["guardian"]["phone"] == "0611223344"
    assert [h["status"] for h in record["history"]] == ["submitted", "validated"]
    assert record["decided_by"] and record["validated_at"]
    theirs = (await http.get("/v1/privacy/export", headers=world.other_family)).json()
    assert [a["application_id"] for a in theirs["applications"]] == [other.json()["application_id"]]

    by_address = await http.get("/v1/privacy/export", params={"email": email}, headers=world.admin)
    assert by_address.status_code == 200
    found = {a["application_id"]: a for a in by_address.json()["applications"]}
    assert set(found) == {online.json()["application_id"], paper.json()["application_id"]}
    assert found[paper.json()["application_id"]]["entered_by"] and found[paper.json()["application_id"]]["channel"] == "paper"
    assert (await http.get("/v1/privacy/export", headers=world.admin)).json()["error"]["code"] == "VALIDATION_ERROR"
    assert (await http.get("/v1/privacy/export", headers=world.correspondent_a)).status_code == 403


async def test_an_erasure_anonymises_the_guardians_applications_and_tells_every_service(world, stack, http, enrolment):
    email = f"{unique_name().lower()}@example.fr"
    names = [unique_name(), unique_name()]
    online = await http.post("/v1/applications", headers=world.family,
                             json=world.application(last_name=names[0], email=email))
    paper = await http.post(f"/v1/schools/{world.school_a}/paper-applications", headers=world.correspondent_a,
                            json=world.application(last_name=names[1], email=email))
    other = await http.post("/v1/applications", headers=world.other_family, json=world.application(last_name=unique_name()))
    online_id, paper_id = online.json()["application_id"], paper.json()["application_id"]
    born = world.birth_date.strftime("%d/%m/%Y")
    r = await http.post(f"/v1/schools/{world.school_a}/roster", headers={**world.correspondent_a, "Content-Type": "text/csv"},
                        content=f"{names[0]};Anaïs;{born};6e\r\n".encode(), params={"validate_matched": "true"})
    assert r.json()["validated"] == [online_id]
    wallet_id = await wallet_ready(world, stack, http, online_id, world.family_sub)
    url = database_of(enrolment)
    await poll_database(url, "SELECT wallet_id IS NOT NULL FROM applications WHERE application_id = $1", online_id)
    await poll_database(url, "SELECT NOT EXISTS (SELECT 1 FROM outbox WHERE state = 'pending')")

    # An address enrolment does not know: 202, nothing erased, nothing published (checked below).
    unknown = await http.post("/v1/privacy/erasures", headers=world.admin, json={"email": "personne@example.fr"})
    assert unknown.status_code == 202 and unknown.json()["applications"] == []
    bad = await http.post("/v1/privacy/erasures", headers=world.admin, json={"email": "personne"})
    assert (bad.status_code, bad.json()["error"]["details"]["fields"][0]["field"]) == (422, "email")
    assert (await http.post("/v1/privacy/erasures", headers=world.correspondent_a, json={"email": email})).status_code == 403

    r = await http.post("/v1/privacy/erasures", headers=world.admin, json={"email": email.upper()})
    assert r.status_code == 202, r.text
    erasure = r.json()
    assert set(erasure["applications"]) == {online_id, paper_id}
    assert (erasure["wallet_ids"], erasure["family_subs"], erasure["campaign_ids"]) == (
        [wallet_id], [world.family_sub], [world.campaign_id])
    told = await stack.wait_for_event("enrolment.privacy", lambda m: m["data"]["erasure_id"] == erasure["erasure_id"])
    assert set(told["data"]["application_ids"]) == {online_id, paper_id} and told["data"]["wallet_ids"] == [wallet_id]
    assert told["data"]["family_subs"] == [world.family_sub] and told["data"]["campaign_ids"] == [world.campaign_id]
    seen = await stack.events("enrolment.privacy", timeout=5, until=lambda found: any(
        m["data"]["erasure_id"] == erasure["erasure_id"] for m in found))
    assert not [m for m in seen if m["data"]["erasure_id"] == unknown.json()["erasure_id"]]

    gone = (await http.get(f"/v1/applications/{paper_id}", headers=world.admin)).json()
    assert gone["anonymised_at"] and gone["guardian"] is None and gone["student"]["last_name"] is None
    assert (await http.get(f"/v1/applications/{other.json()['application_id']}", headers=world.admin)).json()["guardian"]
    assert (await http.get("/v1/privacy/export", params={"email": email}, headers=world.admin)).json()["applications"] == []
    conn = await asyncpg.connect(url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM outbox WHERE message_key = ANY($1::text[])",
                                   [online_id, paper_id]) == 0
        assert await conn.fetchval("SELECT count(*) FROM roster_entries WHERE last_name = $1", names[0]) == 0
        for table in ("applications", "roster_entries", "privacy_erasures", "outbox"):
            rows = await conn.fetch(f"SELECT t::text AS row FROM {table} t")
            assert not [r["row"] for r in rows if email in r["row"].lower() or any(n in r["row"] for n in names)], table
    finally:
        await conn.close()
