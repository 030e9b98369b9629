"""What a school's correspondent does: paper applications, the pending list, the roster, rejections."""

from __future__ import annotations

import codecs
import csv
import io

import pytest

pytestmark = pytest.mark.integration


async def test_roster_import_reports_bad_lines_and_validates_the_matched_applications(world, http, stack):
    online = await http.post("/v1/applications", headers=world.family, json=world.application())
    assert online.status_code == 201
    paper = await http.post(f"/v1/schools/{world.school_a}/paper-applications", headers=world.correspondent_a,
                            json={k: v for k, v in world.application(last_name="Çelik", first_name="Noël").items() if k != "school_id"})
    assert paper.status_code == 201, paper.text
    assert paper.json()["channel"] == "paper"
    unknown = await http.post("/v1/applications", headers=world.other_family,
                              json=world.application(last_name="Martin", first_name="Paul"))
    assert unknown.status_code == 201
    other_school = await http.post(f"/v1/schools/{world.school_a}/paper-applications", headers=world.correspondent_b,
                                   json=world.application(last_name="Petit", first_name="Léa"))
    assert other_school.status_code == 403

    born = world.birth_date.strftime("%d/%m/%Y")
    roster = "\r\n".join([
        "Nom;Prénom;Date de naissance;Niveau",
        f" LEFEVRE ; anaïs ;{born};6ème",
        "",
        f"Çelik;Noël;{born};6e",
        "Durand;;01/01/2012;5e",
        "Roux;Emma;31/02/2012;4e",
        "",
    ]).encode("cp1252")
    r = await http.post(f"/v1/schools/{world.school_b}/roster", headers=world.correspondent_a, content=roster,
                        params={"validate_matched": "true"})
    assert r.status_code == 403
    r = await http.post(f"/v1/schools/{world.school_a}/roster", headers={**world.correspondent_a, "Content-Type": "text/csv"},
                        content=roster, params={"validate_matched": "true"})
    assert r.status_code == 200, r.text
    result = r.json()
    assert result["imported"] == 2
    assert [x["line"] for x in result["rejected"]] == [5, 6]
    assert result["rejected"][0]["reason"] == "prénom manquant"
    assert sorted(result["matched"]) == sorted([online.json()["application_id"], paper.json()["application_id"]])
    assert sorted(result["validated"]) == sorted(result["matched"])
    # The same file sent by an upload form (multipart) reads the same; nothing is left to match.
    r = await http.post(f"/v1/schools/{world.school_a}/roster", headers=world.correspondent_a,
                        files={"file": ("liste.csv", roster, "text/csv")})
    assert r.status_code == 200, r.text
    assert (r.json()["imported"], [x["line"] for x in r.json()["rejected"]], r.json()["matched"]) == (2, [5, 6], [])

    # The pending list now holds only the application not on the roster, in JSON and in CSV.
    pending = await http.get(f"/v1/schools/{world.school_a}/applications", params={"status": "submitted"},
                             headers=world.correspondent_a)
    assert [a["application_id"] for a in pending.json()] == [unknown.json()["application_id"]]
    assert pending.json()[0]["on_roster"] is False
    as_csv = await http.get(f"/v1/schools/{world.school_a}/applications", params={"status": "submitted"},
                            headers={**world.correspondent_a, "Accept": "text/csv"})
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert as_csv.content.startswith(codecs.BOM_UTF8)
    rows = list(csv.reader(io.StringIO(as_csv.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][2] == "Nom" and rows[1][0] == unknown.json()["application_id"] and rows[1][2] == "Martin"
    assert (await http.get(f"/v1/schools/{world.school_a}/applications", headers=world.correspondent_b)).status_code == 403

    # Rejecting needs a reason; the family sees it.
    unknown_id = unknown.json()["application_id"]
    r = await http.post(f"/v1/applications/{unknown_id}/reject", headers=world.correspondent_a, json={})
    assert r.status_code == 422 and r.json()["error"]["code"] == "VALIDATION_ERROR"
    r = await http.post(f"/v1/applications/{unknown_id}/reject", headers=world.correspondent_a,
                        json={"reason": "Élève inconnu du collège"})
    assert r.status_code == 200
    seen = (await http.get(f"/v1/applications/{unknown_id}", headers=world.other_family)).json()
    assert seen["status"] == "rejected" and seen["rejection_reason"] == "Élève inconnu du collège"
    rejected = await stack.wait_for_event(
        "enrolment.applications",
        lambda m: m.get("event_type") == "ApplicationRejected" and m["data"]["application_id"] == unknown_id,
    )
    assert rejected["data"]["reason"] == "Élève inconnu du collège"

    stats = (await http.get("/v1/stats", params={"campaign_id": world.campaign_id}, headers=world.admin)).json()
    assert stats["by_status"] == {"submitted": 0, "validated": 2, "rejected": 1, "wallet_ready": 0}
    assert stats["by_school"][world.school_a]["total"] == 3
    assert stats["validation_delay"]["count"] == 2
    assert stats["validation_delay"]["within_promise"] == 2
