"""Organisations keep their own details, late corrections, the campaign's figures (issue 15), and
families' data (issue 13), on the real service: its own process, real PostgreSQL, real Kafka.

The other services' events are played with `stack.publish`. That the service applied one is read
in its own inbox (the runtime records the event id in the transaction that applied it), never
after a sleep. The codes the notification service would e-mail are read by consuming the notices
and unsealing them, as that service does.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import xmlschema
from stdnum import luhn

from carnet_contracts import events
from carnet_contracts.sealing import unseal
from carnet_local.testing import poll_database

from affiliation.domain.sepa import PAIN_001_XSD

pytestmark = pytest.mark.integration

NOTICES = events.AffiliateInvited.topic.name
AFFILIATES = events.AffiliateActivated.topic.name
REIMBURSEMENTS = events.ReimbursementBatchPaid.topic.name
STRONG = "Tir-a-l'arc 92 Sceaux"
OLD_IBAN = "FR7630006000011234567890189"
NEW_IBAN = "DE89370400440532013000"
RUN = uuid.uuid4().hex[:8]


@pytest.fixture(scope="module")
def affiliation(stack):
    service = stack.service("affiliation", env={
        "CARNET_AFFILIATION_ARGON2_MEMORY_KIB": "8192",
        "CARNET_AFFILIATION_ARGON2_PARALLELISM": "1",
    }).start(timeout=120)
    yield service
    service.stop()


@pytest.fixture
def database(affiliation) -> str:
    return affiliation.env["CARNET_AFFILIATION_DATABASE_URL"]


def new_siret() -> str:
    digits = str(uuid.uuid4().int)
    siren = digits[:8] + luhn.calc_check_digit(digits[:8])
    return siren + digits[8:12] + luhn.calc_check_digit(siren + digits[8:12])


def contact(label: str) -> str:
    return f"{label}-{RUN}@example.org"


async def create_affiliate(http, stack, label: str, *, iban: str = OLD_IBAN) -> dict:
    answer = await http.post("/v1/affiliates", headers=stack.auth("admin"), json={
        "name": f"Club {label} {uuid.uuid4().hex[:6]}", "siret": new_siret(), "activity": "sport",
        "address": {"line": "1 rue du Stade", "postcode": "92160", "city": "Antony"},
        "contact_email": contact(label), "iban": iban,
    })
    assert answer.status_code == 201, answer.text
    return answer.json()


def as_affiliate(stack, created: dict) -> dict[str, str]:
    return stack.auth("affiliate", sub=created["login"], affiliate_id=created["affiliate_id"])


async def notice(stack, event_type: str, affiliate_id: str, *, where=lambda data: True) -> dict:
    message = await stack.wait_for_event(NOTICES, lambda m: m["event_type"] == event_type
                                         and m["data"]["affiliate_id"] == affiliate_id and where(m["data"]))
    return message["data"]


async def fetch(database: str, query: str, *args):
    """One value read in the service's database (after `applied`: never to wait for anything)."""
    import asyncpg

    conn = await asyncpg.connect(database)
    try:
        return await conn.fetchval(query, *args)
    finally:
        await conn.close()


async def applied(database: str, envelope) -> None:
    """The service applied this event (its inbox holds the id, written in the same transaction)."""
    await poll_database(database, "SELECT EXISTS (SELECT 1 FROM inbox WHERE event_id = $1)", envelope.event_id)


async def publish_campaign(stack, database: str) -> str:
    campaign_id = f"c-{uuid.uuid4().hex[:8]}"
    today = date.today()
    envelope = await stack.publish(events.CampaignPublished(
        campaign_id=campaign_id, label=campaign_id, enrolment_opens=today - timedelta(days=90),
        enrolment_closes=today - timedelta(days=60), pass_valid_until=today + timedelta(days=30),
        reimbursement_deadline=today + timedelta(days=60), allowance_cents=7000, tickets_per_pass=7,
        ticket_min_cents=500, ticket_max_cents=7000, eligible_postcode_prefixes=["92"],
        eligible_levels=["6e", "5e", "4e", "3e"], redemption_cancel_grace_minutes=30,
    ))
    await applied(database, envelope)
    return campaign_id


async def redeem(stack, database: str, campaign_id: str, affiliate_id: str, cents: int, *,
                 hours_ago: float = 2, ticket_id: str | None = None) -> events.TicketRedeemed:
    """A redemption, past its cancel grace period unless `hours_ago` says otherwise."""
    event = events.TicketRedeemed(
        redemption_id=str(uuid.uuid4()), ticket_id=ticket_id or str(uuid.uuid4()), wallet_id=str(uuid.uuid4()),
        campaign_id=campaign_id, affiliate_id=affiliate_id, amount_cents=cents, code_suffix="AB7K",
        redeemed_at=datetime.now(UTC) - timedelta(hours=hours_ago),
    )
    await applied(database, await stack.publish(event, producer="redemption"))
    return event


async def cancel(stack, database: str, redeemed: events.TicketRedeemed, *, role: str = "admin"):
    envelope = await stack.publish(events.RedemptionCancelled(
        redemption_id=redeemed.redemption_id, ticket_id=redeemed.ticket_id, wallet_id=redeemed.wallet_id,
        campaign_id=redeemed.campaign_id, affiliate_id=redeemed.affiliate_id, amount_cents=redeemed.amount_cents,
        cancelled_at=datetime.now(UTC), cancelled_by_role=role, reason="encaissé par erreur", then="void",
    ), producer="redemption")
    await applied(database, envelope)


async def create_batch(http, stack, campaign_id: str) -> dict:
    answer = await http.post("/v1/reimbursement-batches", headers=stack.auth("admin"), json={"campaign_id": campaign_id})
    assert answer.status_code == 201, answer.text
    return answer.json()


async def paid_ibans(http, stack, batch_id: str) -> dict[str, Decimal]:
    sepa = await http.get(f"/v1/reimbursement-batches/{batch_id}/sepa.xml", headers=stack.auth("admin"))
    assert sepa.status_code == 200
    schema = xmlschema.XMLSchema(str(PAIN_001_XSD))
    schema.validate(sepa.text)
    document = schema.to_dict(sepa.text)["CstmrCdtTrfInitn"]
    return {tx["CdtrAcct"]["Id"]["IBAN"]: Decimal(str(tx["Amt"]["InstdAmt"]["$"]))
            for info in document["PmtInf"] for tx in info["CdtTrfTxInf"]}


async def statement(http, stack, affiliate_id: str, campaign_id: str) -> dict:
    answer = await http.get(f"/v1/affiliates/{affiliate_id}/statement", params={"campaign_id": campaign_id},
                            headers=stack.auth("admin"))
    assert answer.status_code == 200, answer.text
    return answer.json()


async def test_an_iban_change_confirmed_by_code_pays_the_next_batch_to_the_new_iban_while_the_earlier_batch_keeps_the_old(
    http, stack, database
):
    club = await create_affiliate(http, stack, "iban")
    club_id, me = club["affiliate_id"], as_affiliate(stack, club)
    campaign_id = await publish_campaign(stack, database)
    await redeem(stack, database, campaign_id, club_id, 1000)
    before = await create_batch(http, stack, campaign_id)

    asked = await http.post(f"/v1/affiliates/{club_id}/iban-change", headers=me,
                            json={"iban": "DE89 3704 0044 0532 0130 00"})
    assert asked.status_code == 202, asked.text
    assert asked.json()["new_iban"] == "DE89**************3000"
    issued = await notice(stack, "IbanChangeOtpIssued", club_id)
    assert (issued["contact_email"], issued["new_iban_suffix"]) == (contact("iban"), "3000")
    code = unseal(issued["sealed_otp"], stack.secrets["CARNET_SEAL_KEY"])
    wrong = await http.post(f"/v1/affiliates/{club_id}/iban-change/confirm", headers=me,
                            json={"otp": f"{(int(code) + 1) % 10**6:06d}"})
    assert wrong.status_code == 422 and wrong.json()["error"]["code"] == "OTP_INVALID"
    confirmed = await http.post(f"/v1/affiliates/{club_id}/iban-change/confirm", headers=me, json={"otp": code})
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["iban"] == "DE89**************3000"
    told = await notice(stack, "AffiliateIbanChanged", club_id)
    assert (told["contact_email"], told["iban_suffix"]) == (contact("iban"), "3000")
    again = await http.post(f"/v1/affiliates/{club_id}/iban-change/confirm", headers=me, json={"otp": code})
    assert again.status_code == 409 and again.json()["error"]["code"] == "IBAN_CHANGE_NOT_REQUESTED"

    await redeem(stack, database, campaign_id, club_id, 2000)
    after = await create_batch(http, stack, campaign_id)
    assert await paid_ibans(http, stack, after["batch_id"]) == {NEW_IBAN: Decimal("20.00")}
    assert await paid_ibans(http, stack, before["batch_id"]) == {OLD_IBAN: Decimal("10.00")}
    earlier = (await http.get(f"/v1/reimbursement-batches/{before['batch_id']}", headers=stack.auth("admin"))).json()
    assert [t["iban"][-4:] for t in earlier["transfers"]] == ["0189"]

    trail = await http.get(f"/v1/affiliates/{club_id}/audit-trail", headers=stack.auth("admin"))
    changes = [i for i in trail.json()["items"] if i["action"].startswith("iban_change")]
    assert [(i["action"], i["details"]) for i in changes] == [
        ("iban_change_requested", {"new_iban_suffix": "3000", "role": "affiliate"}),
        ("iban_change", {"old_iban_suffix": "0189", "new_iban_suffix": "3000", "role": "affiliate"}),
    ]
    assert all(i["account"] == club["login"] and i["client_address"] == "127.0.0.1" for i in changes)
    assert NEW_IBAN not in trail.text and OLD_IBAN not in trail.text


async def test_wrong_iban_codes_sent_at_the_same_moment_are_all_counted_and_burn_the_code_after_five(http, stack):
    club = await create_affiliate(http, stack, "race")
    club_id, me = club["affiliate_id"], as_affiliate(stack, club)
    assert (await http.post(f"/v1/affiliates/{club_id}/iban-change", headers=me, json={"iban": NEW_IBAN})).status_code == 202
    code = unseal((await notice(stack, "IbanChangeOtpIssued", club_id))["sealed_otp"], stack.secrets["CARNET_SEAL_KEY"])
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    answers = await asyncio.gather(*(
        http.post(f"/v1/affiliates/{club_id}/iban-change/confirm", headers=me, json={"otp": wrong}) for _ in range(8)))
    assert sorted(a.status_code for a in answers) == [410] * 3 + [422] * 5, [a.text for a in answers]
    assert sorted(a.json()["error"]["details"]["attempts_left"] for a in answers if a.status_code == 422) == [0, 1, 2, 3, 4]
    burnt = await http.post(f"/v1/affiliates/{club_id}/iban-change/confirm", headers=me, json={"otp": code})
    assert burnt.status_code == 410 and burnt.json()["error"]["code"] == "OTP_EXPIRED"
    limited = await http.post(f"/v1/affiliates/{club_id}/iban-change", headers=me, json={"iban": NEW_IBAN})
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
    assert (await http.get(f"/v1/affiliates/{club_id}", headers=me)).json()["iban"].endswith("0189")


async def test_an_organisation_changes_its_contact_and_address_and_the_old_contact_is_told(http, stack):
    club = await create_affiliate(http, stack, "details")
    other = await create_affiliate(http, stack, "other")
    club_id, me = club["affiliate_id"], as_affiliate(stack, club)
    path = f"/v1/affiliates/{club_id}"

    changed = await http.patch(path, headers=me, json={
        "contact_email": contact("tresorier"),
        "address": {"line": "2 rue Neuve", "postcode": "92160", "city": "Antony"},
    })
    assert changed.status_code == 200, changed.text
    assert (changed.json()["contact_email"], changed.json()["address"]["line"]) == (contact("tresorier"), "2 rue Neuve")
    told = await notice(stack, "AffiliateContactChanged", club_id)
    assert (told["old_contact_email"], told["new_contact_email"]) == (contact("details"), contact("tresorier"))
    staff = await http.patch(path, headers=stack.auth("admin"), json={"activity": "culture"})
    assert staff.status_code == 200 and staff.json()["activity"] == "culture"

    for body, field in (({"contact_email": "pas-une-adresse"}, "contact_email"),
                        ({"address": {"line": "1 rue\u202e du Stade", "postcode": "92160", "city": "Antony"}},
                         "address.line"),
                        ({"iban": NEW_IBAN}, "iban")):
        refused = await http.patch(path, headers=me, json=body)
        assert refused.status_code == 422 and refused.json()["error"]["code"] == "VALIDATION_ERROR", refused.text
        assert field in json.dumps(refused.json()["error"]["details"])
    not_yours = await http.patch(path, headers=as_affiliate(stack, other), json={"activity": "culture"})
    assert not_yours.status_code == 404 and not_yours.json()["error"]["code"] == "AFFILIATE_NOT_FOUND"
    family = await http.patch(path, headers=stack.auth("family"), json={"activity": "culture"})
    assert family.status_code == 403

    now = (await http.get(path, headers=me)).json()
    assert (now["contact_email"], now["activity"], now["iban"][-4:]) == (contact("tresorier"), "culture", "0189")
    trail = (await http.get(f"{path}/audit-trail", headers=stack.auth("admin"))).json()["items"]
    assert [(i["action"], i["details"]["fields"]) for i in trail] == [
        ("details_change", ["contact_email", "address"]), ("details_change", ["activity"])]
    assert contact("tresorier") not in json.dumps(trail)


async def test_a_late_cancellation_by_staff_leaves_the_pending_statement_and_one_arriving_after_batching_is_logged_and_kept(
    http, stack, database, affiliation
):
    club = await create_affiliate(http, stack, "late")
    club_id = club["affiliate_id"]
    campaign_id = await publish_campaign(stack, database)
    mistaken = await redeem(stack, database, campaign_id, club_id, 700, hours_ago=72)
    kept = await redeem(stack, database, campaign_id, club_id, 1500, hours_ago=72)

    await cancel(stack, database, mistaken)
    lines = {r["redemption_id"]: r["status"] for r in (await statement(http, stack, club_id, campaign_id))["redemptions"]}
    assert lines == {mistaken.redemption_id: "cancelled", kept.redemption_id: "pending"}
    batch = await create_batch(http, stack, campaign_id)
    assert (batch["total_cents"], batch["count"]) == (1500, 1)

    # the redemption service refuses a cancellation once batched; one arriving anyway is logged and changes nothing
    await cancel(stack, database, kept)
    after = await statement(http, stack, club_id, campaign_id)
    assert [(r["status"], r["batch_id"]) for r in after["redemptions"] if r["redemption_id"] == kept.redemption_id] == [
        ("batched", batch["batch_id"])]
    assert (after["in_payment_cents"], after["pending_cents"]) == (1500, 0)
    logged = [json.loads(line) for line in affiliation.log_file.read_text().splitlines()
              if line.startswith("{") and kept.redemption_id in line]
    assert [(e["level"], e["cancelled_by_role"]) for e in logged if "already in a reimbursement batch" in e["msg"]] == [
        ("error", "admin")]


async def test_the_figures_of_a_campaign_add_up_per_organisation_and_overall_in_one_answer(http, stack, database):
    campaign_id = await publish_campaign(stack, database)
    club, theatre = await create_affiliate(http, stack, "fig-a"), await create_affiliate(http, stack, "fig-b")
    a, b = club["affiliate_id"], theatre["affiliate_id"]
    for cents in (1000, 2000):
        await redeem(stack, database, campaign_id, a, cents)
    paid = await create_batch(http, stack, campaign_id)
    assert (await http.post(f"/v1/reimbursement-batches/{paid['batch_id']}/paid",
                            headers=stack.auth("admin"))).status_code == 200
    await redeem(stack, database, campaign_id, b, 700)
    await create_batch(http, stack, campaign_id)
    await redeem(stack, database, campaign_id, a, 500, hours_ago=0)  # within its grace period: pending
    await cancel(stack, database, await redeem(stack, database, campaign_id, b, 300, hours_ago=0))

    answer = await http.get("/v1/stats", params={"campaign_id": campaign_id}, headers=stack.auth("admin"))
    assert answer.status_code == 200, answer.text
    figures = answer.json()
    assert {k: figures[k] for k in ("reimbursed_cents", "in_payment_cents", "pending_cents", "redeemed_cents",
                                    "cancelled_cents")} == {
        "reimbursed_cents": 3000, "in_payment_cents": 700, "pending_cents": 500, "redeemed_cents": 4200,
        "cancelled_cents": 300}
    assert (figures["reimbursed_count"], figures["in_payment_count"], figures["pending_count"]) == (2, 1, 1)
    assert figures["batches"] == {"in_payment": 1, "paid": 1}
    rows = {row["affiliate_id"]: row for row in figures["affiliates"]}
    for affiliate_id in (a, b):  # the same numbers as each statement, without calling it
        shown = await statement(http, stack, affiliate_id, campaign_id)
        assert {k: rows[affiliate_id][k] for k in ("count", "redeemed_cents", "reimbursed_cents", "in_payment_cents",
                                                   "pending_cents")} == {
            k: shown[k] for k in ("count", "redeemed_cents", "reimbursed_cents", "in_payment_cents", "pending_cents")}
    assert rows[a]["name"] and rows[a]["created_at"]
    assert sum(row["redeemed_cents"] for row in figures["affiliates"]) == figures["redeemed_cents"]
    refused = await http.get("/v1/stats", params={"campaign_id": campaign_id}, headers=as_affiliate(stack, club))
    assert refused.status_code == 403


async def test_a_campaigns_purge_and_a_familys_erasure_keep_the_statements_and_figures_and_forget_the_wallets(
    http, stack, database
):
    club = await create_affiliate(http, stack, "privacy")
    club_id = club["affiliate_id"]
    campaign_id = await publish_campaign(stack, database)
    erased_wallet, kept_wallet = str(uuid.uuid4()), str(uuid.uuid4())
    for wallet_id in (erased_wallet, kept_wallet):
        await applied(database, await stack.publish(events.TicketCredited(
            ticket_id=str(uuid.uuid4()), wallet_id=wallet_id, campaign_id=campaign_id, position=1, code_hash="h" * 64,
            code_suffix="XY9Z", amount_cents=1500, affiliate_id=club_id, valid_until=date.today() + timedelta(days=30),
            credited_at=datetime.now(UTC) - timedelta(days=10),
        ), producer="wallet"))
    await redeem(stack, database, campaign_id, club_id, 1200)
    await create_batch(http, stack, campaign_id)
    await redeem(stack, database, campaign_id, club_id, 800)

    await applied(database, await stack.publish(events.GuardianErasureRequested(
        erasure_id=str(uuid.uuid4()), application_ids=[str(uuid.uuid4())], wallet_ids=[erased_wallet],
        family_subs=["family-erased"], campaign_ids=[campaign_id], requested_at=datetime.now(UTC),
    ), producer="enrolment"))
    assert await fetch(database, "SELECT array_agg(wallet_id ORDER BY wallet_id NULLS FIRST) FROM assigned_tickets "
                       "WHERE campaign_id = $1", campaign_id) == [None, kept_wallet]
    assert await fetch(database, "SELECT count(*) FROM statement_lines WHERE wallet_id IS NOT NULL") == 0

    figures_before = (await http.get("/v1/stats", params={"campaign_id": campaign_id}, headers=stack.auth("admin"))).json()
    statement_before = await statement(http, stack, club_id, campaign_id)
    purge_id = str(uuid.uuid4())
    await applied(database, await stack.publish(events.CampaignPurgeStarted(
        # long ago: the runtime's share (Kafka records older than this) leaves this session's topics alone
        campaign_id=campaign_id, purge_id=purge_id, purge_before=datetime(2020, 1, 1, tzinfo=UTC),
        announced_at=datetime.now(UTC),
    ), producer="enrolment", campaign_id=campaign_id))
    assert await fetch(database, "SELECT count(*) FROM assigned_tickets WHERE campaign_id = $1", campaign_id) == 0
    assert await fetch(database, "SELECT count(*) FROM statement_lines WHERE campaign_id = $1", campaign_id) == 2
    assigned = await http.get(f"/v1/affiliates/{club_id}/assigned-tickets", headers=stack.auth("admin"))
    assert assigned.json()["items"] == []
    figures_after = (await http.get("/v1/stats", params={"campaign_id": campaign_id}, headers=stack.auth("admin"))).json()
    assert figures_after == figures_before and (figures_after["in_payment_cents"], figures_after["pending_cents"]) == (
        1200, 800)
    assert await statement(http, stack, club_id, campaign_id) == statement_before


async def sign_up(http, stack, label: str) -> dict:
    """An organisation through activation and the four steps of its convention: AffiliateActivated."""
    created = await create_affiliate(http, stack, label)
    affiliate_id = created["affiliate_id"]
    invited = await notice(stack, "AffiliateInvited", affiliate_id)
    token = unseal(invited["sealed_activation_token"], stack.secrets["CARNET_SEAL_KEY"])
    assert (await http.post("/v1/affiliates/activation", json={"token": token, "password": STRONG})).status_code == 200
    login = await http.post("/v1/auth/token", json={"login": created["login"], "password": STRONG})
    me = {"Authorization": f"Bearer {login.json()['access_token']}"}
    steps = f"/v1/affiliates/{affiliate_id}/convention"
    sha256 = (await http.get(steps, headers=me)).json()["sha256"]
    assert (await http.post(f"{steps}/read", headers=me, json={"sha256": sha256})).status_code == 200
    assert (await http.post(f"{steps}/accept", headers=me)).status_code == 200
    assert (await http.post(f"{steps}/otp", headers=me)).status_code == 202
    code = unseal((await notice(stack, "ConventionOtpIssued", affiliate_id))["sealed_otp"],
                  stack.secrets["CARNET_SEAL_KEY"])
    signed = await http.post(f"{steps}/sign", headers=me, json={"otp": code})
    assert signed.status_code == 200 and signed.json()["status"] == "active", signed.text
    return created


async def test_the_topics_wallet_and_redemption_read_carry_no_contact_address_iban_or_sealed_secret(
    http, stack, database
):
    club = await sign_up(http, stack, "topics")
    club_id = club["affiliate_id"]
    admin = stack.auth("admin")
    assert (await http.post(f"/v1/affiliates/{club_id}/suspend", headers=admin, json={"reason": "contrôle"})).status_code == 200
    assert (await http.post(f"/v1/affiliates/{club_id}/reinstate", headers=admin)).status_code == 200
    campaign_id = await publish_campaign(stack, database)
    await redeem(stack, database, campaign_id, club_id, 1000)
    batch = await create_batch(http, stack, campaign_id)
    assert (await http.post(f"/v1/reimbursement-batches/{batch['batch_id']}/paid", headers=admin)).status_code == 200
    await notice(stack, "ReimbursementTransferSent", club_id)  # every event of the flow is on Kafka by now

    read_by_others = await asyncio.gather(*(stack.events(topic, raw=True, timeout=3)
                                            for topic in (AFFILIATES, REIMBURSEMENTS)))
    # what the affiliation processes wrote (tests of other services publish their own stand-in events here)
    records = [r for found in read_by_others for r in found if json.loads(r.value)["producer"] == "affiliation"]
    types = {json.loads(r.value)["event_type"] for r in records}
    assert {"AffiliateActivated", "AffiliateSuspended", "ReimbursementBatchCreated", "ReimbursementBatchPaid"} <= types
    assert types <= {"AffiliateActivated", "AffiliateSuspended", "ReimbursementBatchCreated", "ReimbursementBatchPaid"}

    def fields(value) -> set[str]:
        if isinstance(value, dict):
            return set(value) | {f for v in value.values() for f in fields(v)}
        if isinstance(value, list):
            return {f for v in value for f in fields(v)}
        return set()

    for record in records:
        named = fields(json.loads(record.value)["data"])
        assert not {f for f in named if "email" in f or "iban" in f or "bic" in f or "sealed" in f}, named
        assert b"@example.org" not in record.value and OLD_IBAN.encode() not in record.value
        assert NEW_IBAN.encode() not in record.value
    # the notices, which the notification service alone reads, are where the contact is
    notices = await stack.events(NOTICES, raw=True, timeout=3)
    assert any(contact("topics").encode() in r.value for r in notices)
