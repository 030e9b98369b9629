"""What an attacker gets from one request to the real enrolment service (issue 12): limits at the
door, input that can't hurt, and the school staff's personal details kept for the admin."""

from __future__ import annotations

import asyncio
import json
from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.integration

GOOD_LINE = "{name};Anaïs;14/05/2003;6e"


def roster_of(lines: list[str]) -> bytes:
    return "\r\n".join(lines).encode("utf-8")


async def answer_to_headers_alone(base_url: str, path: str, headers: dict[str, str], declared: int) -> tuple[int, dict]:
    """The service's answer to a request that declares a body of `declared` bytes and sends none of
    it: an answer at all proves the service decided before reading the body."""
    parts = urlsplit(base_url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    try:
        head = {**headers, "Host": parts.netloc, "Content-Length": str(declared), "Content-Type": "text/csv"}
        writer.write((f"POST {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in head.items()) + "\r\n").encode())
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), timeout=30)  # the service closes after its answer
    finally:
        writer.close()
    status_line, _, rest = raw.partition(b"\r\n")
    return int(status_line.split()[1]), json.loads(rest.partition(b"\r\n\r\n")[2])


async def test_the_roster_has_its_own_body_limit_and_every_other_route_the_runtime_default(world, http, enrolment):
    roster_url = f"/v1/schools/{world.school_a}/roster"
    headers = {**world.correspondent_a, "Content-Type": "text/csv"}
    # 9,000 lines (about 330 KB): over the runtime's 256 KiB default, under the roster's 2 MiB.
    big = roster_of([GOOD_LINE.format(name=f"Élève {n}") for n in range(9_000)])
    assert 262_144 < len(big) < 2 * 1024 * 1024
    r = await http.post(roster_url, headers=headers, content=big)
    assert r.status_code == 200, r.text
    assert r.json()["imported"] == 9_000

    status, body = await answer_to_headers_alone(enrolment.url, roster_url, world.correspondent_a, 2 * 1024 * 1024 + 1)
    assert (status, body["error"]["code"], body["error"]["details"]) == (413, "PAYLOAD_TOO_LARGE", {"max_bytes": 2 * 1024 * 1024})
    # Refused before the token is looked at: an anonymous client cannot make the service read it.
    status, _ = await answer_to_headers_alone(enrolment.url, roster_url, {}, 2 * 1024 * 1024 + 1)
    assert status == 413

    status, body = await answer_to_headers_alone(enrolment.url, "/v1/applications", world.family, 262_145)
    assert (status, body["error"]["code"], body["error"]["details"]) == (413, "PAYLOAD_TOO_LARGE", {"max_bytes": 262_144})
    # Under the default, the same route reads its body as usual.
    r = await http.post("/v1/applications", headers=world.family, json=world.application(first_name="Léa"))
    assert r.status_code == 201, r.text


async def test_a_roster_over_the_row_cap_is_refused_and_the_bad_lines_listed_are_capped(world, http):
    roster_url = f"/v1/schools/{world.school_a}/roster"
    headers = {**world.correspondent_a, "Content-Type": "text/csv"}
    r = await http.post(roster_url, headers=headers, content=roster_of(["Martin;Paul;31/02/2003;5e"] * 10_001))
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "ROSTER_TOO_LARGE"
    assert r.json()["error"]["details"] == {"lines": 10_001, "max_lines": 10_000}

    lines = ["Nom;Prénom;Date de naissance;Niveau", GOOD_LINE.format(name="Lefèvre")]
    lines += [f"Martin {n};Paul;31/02/2003;5e" for n in range(500)]
    r = await http.post(roster_url, headers=headers, content=roster_of(lines))
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["imported"] == 1
    assert [x["line"] for x in answer["rejected"]] == list(range(3, 203))
    assert answer["rejected"][0]["reason"] == "date de naissance « 31/02/2003 » invalide : attendu jj/mm/aaaa"
    assert (answer["rejected_count"], answer["rejected_truncated"]) == (500, True)


async def test_control_and_bidirectional_characters_are_refused_naming_the_field(world, http):
    cases = [
        ("POST", "/v1/applications", world.family, world.application(last_name="Lef\u202eèvre"), "student.last_name"),
        ("POST", "/v1/applications", world.family,
         {**world.application(), "address": {"line": "1 rue\x00", "postcode": "92100", "city": "Boulogne"}}, "address.line"),
        ("POST", "/v1/applications", world.family,
         {**world.application(), "guardian": {"last_name": "L", "first_name": "P\r\nBcc: x", "email": "p@e.fr"}},
         "guardian.first_name"),
        ("PUT", f"/v1/schools/{world.school_a}", world.admin,
         {"name": "Collège\u2066", "postcode": "92100", "city": "Boulogne"}, "name"),
        ("PUT", f"/v1/campaigns/{world.campaign_id}", world.admin, {"label": "Pass\x07"}, "label"),
    ]
    for method, url, headers, body, field in cases:
        r = await http.request(method, url, headers=headers, json=body)
        assert r.status_code == 422, (field, r.text)
        assert r.json()["error"]["code"] == "VALIDATION_ERROR"
        assert field in {f["field"] for f in r.json()["error"]["details"]["fields"]}

    submitted = await http.post("/v1/applications", headers=world.family, json=world.application(first_name="Zoé"))
    assert submitted.status_code == 201, submitted.text
    r = await http.post(f"/v1/applications/{submitted.json()['application_id']}/reject", headers=world.correspondent_a,
                        json={"reason": "motif\u202e"})
    assert r.status_code == 422 and r.json()["error"]["details"]["fields"][0]["field"] == "reason"


async def test_a_nul_byte_anywhere_never_gives_a_500(world, http):
    attempts = [
        ("GET", "/v1/campaigns/c%00x", world.family, None),
        ("PUT", "/v1/campaigns/c%00x", world.admin, {"label": "x"}),
        ("GET", "/v1/schools/s%00x", world.family, None),
        ("GET", f"/v1/schools/{world.school_a}%00/applications", world.admin, None),
        ("GET", f"/v1/schools/{world.school_a}/applications?status=sub%00mitted", world.admin, None),
        ("GET", "/v1/stats?campaign_id=c%00x", world.admin, None),
        ("GET", "/v1/applications/a%00b", world.admin, None),
        ("POST", "/v1/applications/a%00b/validate", world.correspondent_a, None),
        ("POST", "/v1/applications", world.family, world.application(last_name="Nul\x00")),
        ("POST", "/v1/applications", world.family, {**world.application(), "campaign_id": "c\x00"}),
        ("POST", f"/v1/schools/{world.school_a}/paper-applications", world.correspondent_a,
         {**world.application(), "school_id": "\x00"}),
    ]
    for method, url, headers, body in attempts:
        r = await http.request(method, url, headers=headers, json=body)
        assert 400 <= r.status_code < 500, (method, url, r.status_code, r.text)
        assert r.json()["error"]["code"] in {"VALIDATION_ERROR", "NOT_SCHOOL_CORRESPONDENT"}, (url, r.text)

    roster = roster_of([GOOD_LINE.format(name="Lefèvre"), GOOD_LINE.format(name="Nul\x00"), "Roux;Em\u202ema;12/03/2002;3e"])
    r = await http.post(f"/v1/schools/{world.school_a}/roster", headers={**world.correspondent_a, "Content-Type": "text/csv"},
                        content=roster)
    assert r.status_code == 200, r.text
    assert r.json()["imported"] == 1
    assert [(x["line"], x["reason"]) for x in r.json()["rejected"]] == [
        (2, "caractère de contrôle ou de sens d'écriture U+0000 interdit : retaper la ligne"),
        (3, "caractère de contrôle ou de sens d'écriture U+202E interdit : retaper la ligne"),
    ]


async def test_the_correspondent_address_is_shown_to_the_admin_only(world, http, stack):
    r = await http.put(f"/v1/schools/{world.school_a}", headers=world.admin, json={
        "name": "Collège Anatole France", "postcode": "92100", "city": "Boulogne-Billancourt",
        "correspondent_email": "cdt@ac-versailles.fr"})
    assert r.status_code == 200 and r.json()["correspondent_email"] == "cdt@ac-versailles.fr"
    listed = {s["school_id"]: s for s in (await http.get("/v1/schools", headers=world.admin)).json()}
    assert listed[world.school_a]["correspondent_email"] == "cdt@ac-versailles.fr"
    one = (await http.get(f"/v1/schools/{world.school_a}", headers=world.admin)).json()
    assert one["correspondent_email"] == "cdt@ac-versailles.fr"
    for headers in (world.family, world.correspondent_a, stack.auth("affiliate", affiliate_id="a-1")):
        listed = (await http.get("/v1/schools", headers=headers)).json()
        assert listed and all("correspondent_email" not in s for s in listed)
        one = (await http.get(f"/v1/schools/{world.school_a}", headers=headers)).json()
        assert one["name"] == "Collège Anatole France" and "correspondent_email" not in one
