"""The affiliation service on the real stack: its own process, real PostgreSQL, real Kafka.

The onboarding test runs the notification service too and reads the activation link and the
one-time code from the e-mails the SMTP capture received. The other tests read the activation
token the way the notification service does: by consuming the event and unsealing it.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from datetime import UTC, date, datetime, time as clock_time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest
import xmlschema

from carnet_contracts import events
from carnet_contracts.sealing import unseal
from carnet_local.testing import poll_database
from carnet_runtime.auth import TokenVerifier

from affiliation.domain.sepa import PAIN_001_XSD

pytestmark = pytest.mark.integration

NOTICES = events.AffiliateInvited.topic.name  # what the contact is told: read by notification alone
AFFILIATES = events.AffiliateActivated.topic.name
REIMBURSEMENTS = events.ReimbursementBatchCreated.topic.name
STRONG = "Tir-a-l'arc 92 Sceaux"
PARIS = ZoneInfo("Europe/Paris")
SIRETS = ["73282932000074", "55208131766522", "35600000000048", "44306184100047"]
IBANS = ["FR7630006000011234567890189", "DE89370400440532013000", "FR1420041010050500013M02606", "GB82WEST12345698765432"]


AFFILIATION_ENV = {
    "CARNET_AFFILIATION_ARGON2_MEMORY_KIB": "8192",
    "CARNET_AFFILIATION_ARGON2_PARALLELISM": "1",
    "CARNET_AFFILIATION_REMINDER_POLL_SECONDS": "1",
}
# What the affiliation service consumes: its statements are final once its group has read these.
CONSUMED = [events.CampaignPublished.topic.name, events.TicketCredited.topic.name, events.TicketRedeemed.topic.name]


@pytest.fixture(scope="module")
def affiliation(stack):
    """One affiliation process for the module, with its own database and consumer group: it knows
    only what this module publishes (never an earlier test's leftovers)."""
    service = stack.service("affiliation", env=AFFILIATION_ENV, own_consumer_group=True).start(timeout=120)
    yield service
    service.stop()


# Unique per test run: other tests' events may be replayed to this test's mail capture.
RUN = uuid.uuid4().hex[:8]


def contact_email(n: int) -> str:
    return f"contact{n}-{RUN}@example.org"


async def create_affiliate(http, stack, n: int, *, city: str = "Antony") -> dict:
    answer = await http.post(
        "/v1/affiliates",
        headers=stack.auth("admin"),
        json={
            "name": f"Club {uuid.uuid4().hex[:6]}",
            "siret": SIRETS[n],
            "activity": "sport",
            "address": {"line": "1 rue du Stade", "postcode": "92160", "city": city},
            "contact_email": contact_email(n),
            "iban": IBANS[n],
        },
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


@pytest.fixture
def mailer(stack, smtp_capture):
    """The notification service, sending to the test's SMTP capture (its own consumer group: no
    earlier test's events are replayed to this capture)."""
    service = stack.service("notification", smtp_port=smtp_capture.port, own_consumer_group=True).start(timeout=120)
    yield smtp_capture
    service.stop()


async def mail_to(capture, address: str, subject: str, pattern: str, *, timeout: float = 60.0) -> str:
    """The first group of `pattern` in the plain-text body of the latest e-mail to `address` about `subject`.

    The latest: a notification process of the same consumer group may replay an earlier test's
    events to this capture (regression: an older one-time code was read, and signing failed)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in reversed(capture.messages()):
            if address in str(message["To"]) and subject in str(message["Subject"]):
                body = message.get_body(preferencelist=("plain",)).get_content()
                found = re.search(pattern, body)
                if found:
                    return found.group(1)
        await asyncio.sleep(0.5)
    raise AssertionError(f"no e-mail to {address} matching {pattern} within {timeout} s")


async def unsealed(stack, event_type: str, affiliate_id: str, field: str) -> str:
    message = await stack.wait_for_event(
        NOTICES, lambda m: m["event_type"] == event_type and m["data"]["affiliate_id"] == affiliate_id
    )
    return unseal(message["data"][field], stack.secrets["CARNET_SEAL_KEY"])


async def test_an_invited_organisation_activates_logs_in_signs_the_convention_and_becomes_active(
    http, stack, affiliation, mailer
):
    created = await create_affiliate(http, stack, 0)
    affiliate_id = created["affiliate_id"]
    assert created["status"] == "invited" and re.fullmatch(r"club-[0-9a-f]{6}-[2-9a-hjkmnp-z]{5}", created["login"])

    same_siret = await http.post(
        "/v1/affiliates",
        headers=stack.auth("admin"),
        json={"name": "Autre", "siret": SIRETS[0], "activity": "culture",
              "address": {"line": "x", "postcode": "92000", "city": "Nanterre"},
              "contact_email": "a@example.org", "iban": IBANS[1]},
    )
    assert same_siret.status_code == 409 and same_siret.json()["error"]["code"] == "DUPLICATE_SIRET"

    token = await mail_to(mailer, contact_email(0), "identifiant", r"\?token=([A-Za-z0-9_-]+)")
    assert await mail_to(mailer, contact_email(0), "identifiant", r"Votre identifiant : (\S+)") == created["login"]

    weak = await http.post(f"/v1/affiliates/{affiliate_id}/activation", json={"token": token, "password": "court"})
    assert weak.status_code == 422 and weak.json()["error"]["code"] == "WEAK_PASSWORD"
    # the portal behind the e-mailed link has the token only: the token names its account
    activated = await http.post("/v1/affiliates/activation", json={"token": token, "password": STRONG})
    assert activated.status_code == 200, activated.text
    assert (activated.json()["affiliate_id"], activated.json()["status"]) == (affiliate_id, "convention_pending")
    reused = await http.post(f"/v1/affiliates/{affiliate_id}/activation", json={"token": token, "password": STRONG})
    assert reused.status_code == 422 and reused.json()["error"]["code"] == "ACTIVATION_TOKEN_INVALID"

    wrong = await http.post("/v1/auth/token", json={"login": created["login"], "password": STRONG + "x"})
    assert wrong.status_code == 401
    login = await http.post("/v1/auth/token", json={"login": created["login"], "password": STRONG})
    assert login.status_code == 200, login.text
    assert login.json()["token_type"] == "bearer"
    access_token = login.json()["access_token"]
    principal = TokenVerifier(stack.keys_dir, audience="redemption").verify(access_token)  # what every other service does
    assert (principal.role, principal.affiliate_id) == ("affiliate", affiliate_id)
    # a forged X-Forwarded-For: this service trusts no proxy (CARNET_TRUSTED_PROXIES is empty)
    me = {"Authorization": f"Bearer {access_token}", "X-Forwarded-For": "203.0.113.7"}

    convention = (await http.get(f"/v1/affiliates/{affiliate_id}/convention", headers=me)).json()
    assert convention["next_step"] == "read"
    early = await http.post(f"/v1/affiliates/{affiliate_id}/convention/accept", headers=me)
    assert early.status_code == 409 and early.json()["error"]["code"] == "CONVENTION_STEP_OUT_OF_ORDER"
    bad_hash = await http.post(f"/v1/affiliates/{affiliate_id}/convention/read", headers=me, json={"sha256": "0" * 64})
    assert bad_hash.status_code == 422 and bad_hash.json()["error"]["code"] == "CONVENTION_HASH_MISMATCH"
    read = await http.post(
        f"/v1/affiliates/{affiliate_id}/convention/read", headers=me, json={"sha256": convention["sha256"]}
    )
    assert read.status_code == 200, read.text
    assert (await http.post(f"/v1/affiliates/{affiliate_id}/convention/accept", headers=me)).status_code == 200
    sent = await http.post(f"/v1/affiliates/{affiliate_id}/convention/otp", headers=me)
    assert sent.status_code == 202, sent.text
    otp = await mail_to(mailer, contact_email(0), "code", r"(?m)^\s+(\d{6})\s*$")

    wrong_code = f"{(int(otp) + 1) % 10**6:06d}"
    refused = await http.post(f"/v1/affiliates/{affiliate_id}/convention/sign", headers=me, json={"otp": wrong_code})
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "OTP_INVALID"
    signed = await http.post(f"/v1/affiliates/{affiliate_id}/convention/sign", headers=me, json={"otp": otp})
    assert signed.status_code == 200, signed.text
    assert signed.json()["status"] == "active"

    activated_event = await stack.wait_for_event(
        AFFILIATES, lambda m: m["event_type"] == "AffiliateActivated" and m["data"]["affiliate_id"] == affiliate_id
    )
    assert activated_event["data"]["city"] == "Antony"

    trail = await http.get(f"/v1/affiliates/{affiliate_id}/audit-trail", headers=stack.auth("admin"))
    items = trail.json()["items"]
    assert [i["action"] for i in items] == ["read", "accept", "otp", "sign"]
    assert all(i["document_sha256"] == convention["sha256"] and i["client_address"] == "127.0.0.1" for i in items)
    assert all(i["account"] == created["login"] for i in items)

    directory = await http.get("/v1/affiliates", params={"city": "antony", "activity": "sport"}, headers=stack.auth("family"))
    assert affiliate_id in [a["affiliate_id"] for a in directory.json()["items"]]

    # staff suspend the organisation (it may no longer redeem), then reinstate it
    admin = stack.auth("admin")
    suspended = await http.post(f"/v1/affiliates/{affiliate_id}/suspend", headers=admin, json={"reason": "contrôle"})
    assert suspended.status_code == 200 and suspended.json()["status"] == "suspended"
    twice = await http.post(f"/v1/affiliates/{affiliate_id}/suspend", headers=admin)
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "AFFILIATE_NOT_ACTIVE"
    await stack.wait_for_event(
        AFFILIATES, lambda m: m["event_type"] == "AffiliateSuspended" and m["data"]["affiliate_id"] == affiliate_id
    )
    reinstated = await http.post(f"/v1/affiliates/{affiliate_id}/reinstate", headers=admin)
    assert reinstated.status_code == 200 and reinstated.json()["status"] == "active"
    trail = (await http.get(f"/v1/affiliates/{affiliate_id}/audit-trail", headers=admin)).json()["items"]
    assert [i["action"] for i in trail][-2:] == ["suspend", "reinstate"]

    # no secret in clear on Kafka nor in the service's log; both topics read whole once the outbox is empty
    await poll_database(affiliation.database_url, "SELECT count(*) = 0 FROM outbox WHERE state = 'pending'")
    raw = await stack.read_to_end(NOTICES, raw=True) + await stack.read_to_end(AFFILIATES, raw=True)
    carried = {json.loads(r.value)["event_type"] for r in raw if r.key == affiliate_id.encode()}
    assert {"AffiliateInvited", "ConventionOtpIssued", "ConventionSigned", "AffiliateActivated"} <= carried, carried
    assert not any(token.encode() in r.value or otp.encode() in r.value for r in raw)
    log_text = affiliation.log_file.read_text(errors="replace")
    assert token not in log_text and STRONG not in log_text and contact_email(0) not in log_text

    # at the opening of a campaign every active organisation is reminded of its login
    today = datetime.now(PARIS).date()
    campaign_id = f"reminder-{uuid.uuid4().hex[:6]}"
    await stack.publish(campaign(campaign_id, opens=today, valid_until=today + timedelta(days=30)))
    reminder = await stack.wait_for_event(
        NOTICES,
        lambda m: m["event_type"] == "AffiliateLoginReminded"
        and m["data"]["affiliate_id"] == affiliate_id
        and m["data"]["campaign_id"] == campaign_id,
    )
    assert reminder["data"]["login"] == created["login"]
    assert STRONG not in str(reminder)


async def test_the_service_documents_its_api_and_events_and_serves_health_and_metrics(http):
    openapi = (await http.get("/openapi.json")).json()
    assert "/v1/affiliates/{affiliate_id}/convention/sign" in openapi["paths"]
    assert "/v1/reimbursement-batches/{batch_id}/sepa.xml" in openapi["paths"]
    asyncapi = await http.get("/asyncapi.json")
    assert asyncapi.status_code == 200 and "redemption.redemptions" in asyncapi.text
    assert (await http.get("/health/ready")).json()["status"] == "ready"
    assert "carnet_http_request_duration_seconds" in (await http.get("/metrics")).text


async def test_the_same_organisation_created_twice_at_the_same_moment_is_affiliated_once(http, stack):
    from stdnum import luhn

    digits = str(uuid.uuid4().int)
    siren = digits[:8] + luhn.calc_check_digit(digits[:8])  # both the SIREN and the SIRET carry a Luhn digit
    siret = siren + digits[8:12] + luhn.calc_check_digit(siren + digits[8:12])
    organisation = {
        "name": "Ludothèque de Bagneux", "siret": siret, "activity": "leisure",
        "address": {"line": "2 place de la Fontaine", "postcode": "92220", "city": "Bagneux"},
        "contact_email": "ludo@example.org", "iban": IBANS[0],
    }
    answers = await asyncio.gather(
        *(http.post("/v1/affiliates", headers=stack.auth("admin"), json=organisation) for _ in range(2))
    )
    assert sorted(a.status_code for a in answers) == [201, 409], [a.text for a in answers]
    assert next(a for a in answers if a.status_code == 409).json()["error"]["code"] == "DUPLICATE_SIRET"


async def test_wrong_passwords_never_lock_the_owner_out_and_a_reset_link_sets_a_new_password(http, stack):
    created = await create_affiliate(http, stack, 1)
    token = await unsealed(stack, "AffiliateInvited", created["affiliate_id"], "sealed_activation_token")
    activated = await http.post(
        f"/v1/affiliates/{created['affiliate_id']}/activation", json={"token": token, "password": STRONG}
    )
    assert activated.status_code == 200
    for _ in range(5):
        answer = await http.post("/v1/auth/token", json={"login": created["login"], "password": "Mauvais-92-mdp"})
        assert answer.status_code == 401
    # five failures (here, the owner's own typos) slow the account down but never lock it
    login = await http.post("/v1/auth/token", json={"login": created["login"], "password": STRONG})
    assert login.status_code == 200, login.text

    # a password reset by e-mail; the answer does not tell whether the login exists
    unknown = await http.post("/v1/auth/password-reset", json={"login": "nobody-here"})
    asked = await http.post("/v1/auth/password-reset", json={"login": created["login"]})
    assert unknown.status_code == asked.status_code == 202 and unknown.json() == asked.json()
    reset_token = await unsealed(stack, "PasswordResetRequested", created["affiliate_id"], "sealed_reset_token")
    weak = await http.post("/v1/auth/password-reset/confirm", json={"token": reset_token, "password": "motdepasse"})
    assert weak.status_code == 422 and weak.json()["error"]["code"] == "WEAK_PASSWORD"
    new_password = "Nouveau mot de passe 2027 !"
    confirmed = await http.post("/v1/auth/password-reset/confirm", json={"token": reset_token, "password": new_password})
    assert confirmed.status_code == 200, confirmed.text
    again = await http.post("/v1/auth/password-reset/confirm", json={"token": reset_token, "password": new_password})
    assert again.status_code == 422 and again.json()["error"]["code"] == "RESET_TOKEN_INVALID"
    assert (await http.post("/v1/auth/token", json={"login": created["login"], "password": STRONG})).status_code == 401
    login = await http.post("/v1/auth/token", json={"login": created["login"], "password": new_password})
    assert login.status_code == 200


def campaign(campaign_id: str, *, opens: date, valid_until: date, deadline: date | None = None) -> events.CampaignPublished:
    return events.CampaignPublished(
        campaign_id=campaign_id,
        label=campaign_id,
        enrolment_opens=opens,
        enrolment_closes=opens + timedelta(days=30),
        pass_valid_until=valid_until,
        reimbursement_deadline=deadline or valid_until + timedelta(days=30),
        allowance_cents=7000,
        tickets_per_pass=7,
        ticket_min_cents=500,
        ticket_max_cents=7000,
        eligible_postcode_prefixes=["92"],
        eligible_levels=["6e", "5e", "4e", "3e"],
        redemption_cancel_grace_minutes=30,
    )


def redeemed(campaign_id: str, affiliate_id: str, cents: int, at: datetime) -> events.TicketRedeemed:
    return events.TicketRedeemed(
        redemption_id=str(uuid.uuid4()),
        ticket_id=str(uuid.uuid4()),
        wallet_id=str(uuid.uuid4()),
        campaign_id=campaign_id,
        affiliate_id=affiliate_id,
        amount_cents=cents,
        code_suffix="AB7K",
        redeemed_at=at,
    )


async def statement(http, stack, affiliate_id: str, campaign_id: str) -> dict:
    answer = await http.get(
        f"/v1/affiliates/{affiliate_id}/statement", params={"campaign_id": campaign_id}, headers=stack.auth("admin")
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


async def test_a_reimbursement_batch_pays_each_organisation_its_redemptions_up_to_the_deadline_in_a_valid_sepa_file(
    http, stack, affiliation
):
    # A campaign whose reimbursement deadline passed a month ago, whatever today is.
    today = datetime.now(PARIS).date()
    deadline = today - timedelta(days=30)
    valid_until = deadline - timedelta(days=30)
    campaign_id = f"c-{uuid.uuid4().hex[:8]}"
    await stack.publish(campaign(campaign_id, opens=valid_until - timedelta(days=300), valid_until=valid_until,
                                 deadline=deadline))
    club = await create_affiliate(http, stack, 2, city="Sceaux")
    theatre = await create_affiliate(http, stack, 3, city="Clamart")
    a, b = club["affiliate_id"], theatre["affiliate_id"]

    def at(day: date, hour: int, minute: int = 0) -> datetime:
        return datetime.combine(day, clock_time(hour, minute), tzinfo=PARIS)

    in_time = [
        redeemed(campaign_id, a, 1000, at(valid_until - timedelta(days=80), 15)),
        redeemed(campaign_id, a, 2550, at(deadline, 23, 30)),  # the deadline's last hour
        redeemed(campaign_id, b, 7000, at(valid_until - timedelta(days=30), 10)),
    ]
    late = redeemed(campaign_id, b, 500, at(deadline + timedelta(days=1), 0, 30))
    cancelled = redeemed(campaign_id, a, 900, at(valid_until - timedelta(days=60), 0))
    for event in [*in_time, late, cancelled]:
        await stack.publish(event, producer="redemption")
    await stack.publish(
        events.RedemptionCancelled(
            redemption_id=cancelled.redemption_id, ticket_id=cancelled.ticket_id, wallet_id=cancelled.wallet_id,
            campaign_id=campaign_id, affiliate_id=a, amount_cents=900,
            cancelled_at=cancelled.redeemed_at + timedelta(minutes=5),
        ),
        producer="redemption",
    )
    await stack.publish(
        events.TicketCredited(
            ticket_id="t-assigned", wallet_id="w1", campaign_id=campaign_id, position=1, code_hash="h" * 64,
            code_suffix="XY9Z", amount_cents=1500, affiliate_id=a, valid_until=valid_until,
            credited_at=at(valid_until - timedelta(days=150), 10),
        ),
        producer="wallet",
    )
    await stack.caught_up(affiliation.consumer_group, CONSUMED)
    statement_a = await statement(http, stack, a, campaign_id)
    assert {r["redemption_id"]: r["status"] for r in statement_a["redemptions"]} == {
        in_time[0].redemption_id: "pending", in_time[1].redemption_id: "pending", cancelled.redemption_id: "cancelled"}
    assert statement_a["pending_cents"] == 3550

    yesterday = (today - timedelta(days=1)).isoformat()
    past = await http.post(
        "/v1/reimbursement-batches", headers=stack.auth("admin"), json={"campaign_id": campaign_id, "execution_date": yesterday}
    )
    assert past.status_code == 422
    # two members of staff create a batch at the same moment: no redemption is paid twice.
    answers = await asyncio.gather(
        *(http.post("/v1/reimbursement-batches", headers=stack.auth("admin"), json={"campaign_id": campaign_id})
          for _ in range(2))
    )
    assert sorted(a.status_code for a in answers) == [201, 409], [a.text for a in answers]
    batch = next(a for a in answers if a.status_code == 201)
    assert next(a for a in answers if a.status_code == 409).json()["error"]["code"] == "NOTHING_TO_REIMBURSE"
    body = batch.json()
    assert (body["total_cents"], body["count"]) == (10550, 3)
    # the 201 came once the batch's event was confirmed by Kafka: the redemption service can know it
    conn = await asyncpg.connect(affiliation.database_url)
    try:
        states = await conn.fetch("SELECT state FROM outbox WHERE event_type = 'ReimbursementBatchCreated' "
                                  "AND envelope->'data'->>'batch_id' = $1", body["batch_id"])
    finally:
        await conn.close()
    assert [r["state"] for r in states] == ["sent"]
    assert sorted((t["affiliate_id"], t["amount_cents"]) for t in body["transfers"]) == sorted([(a, 3550), (b, 7000)])

    sepa = await http.get(f"/v1/reimbursement-batches/{body['batch_id']}/sepa.xml", headers=stack.auth("admin"))
    assert sepa.status_code == 200
    schema = xmlschema.XMLSchema(str(PAIN_001_XSD))
    schema.validate(sepa.text)
    document = schema.to_dict(sepa.text)["CstmrCdtTrfInitn"]
    assert Decimal(str(document["GrpHdr"]["CtrlSum"])) == Decimal("105.50")
    paid_to = {
        tx["CdtrAcct"]["Id"]["IBAN"]: Decimal(str(tx["Amt"]["InstdAmt"]["$"]))
        for info in document["PmtInf"]
        for tx in info["CdtTrfTxInf"]
    }
    assert paid_to == {IBANS[2]: Decimal("35.50"), IBANS[3]: Decimal("70.00")}

    csv_file = await http.get(f"/v1/reimbursement-batches/{body['batch_id']}/transfers.csv", headers=stack.auth("admin"))
    assert csv_file.status_code == 200 and len(csv_file.text.splitlines()) == 3

    created_event = await stack.wait_for_event(
        REIMBURSEMENTS, lambda m: m["event_type"] == "ReimbursementBatchCreated" and m["data"]["batch_id"] == body["batch_id"]
    )
    assert sorted(created_event["data"]["redemption_ids"]) == sorted(r.redemption_id for r in in_time)
    assert late.redemption_id not in created_event["data"]["redemption_ids"]

    again = await http.post("/v1/reimbursement-batches", headers=stack.auth("admin"), json={"campaign_id": campaign_id})
    assert again.status_code == 409 and again.json()["error"]["code"] == "NOTHING_TO_REIMBURSE"

    paid = await http.post(f"/v1/reimbursement-batches/{body['batch_id']}/paid", headers=stack.auth("admin"))
    assert paid.status_code == 200 and paid.json()["status"] == "paid"
    twice = await http.post(f"/v1/reimbursement-batches/{body['batch_id']}/paid", headers=stack.auth("admin"))
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "BATCH_ALREADY_PAID"
    paid_event = await stack.wait_for_event(
        REIMBURSEMENTS, lambda m: m["event_type"] == "ReimbursementBatchPaid" and m["data"]["batch_id"] == body["batch_id"]
    )
    assert paid_event["data"]["total_cents"] == 10550
    assert sorted((t["affiliate_id"], t["amount_cents"]) for t in paid_event["data"]["transfers"]) == sorted(
        [(a, 3550), (b, 7000)])
    told = await stack.wait_for_event(
        NOTICES, lambda m: m["event_type"] == "ReimbursementTransferSent" and m["data"]["batch_id"] == body["batch_id"]
        and m["data"]["affiliate_id"] == b
    )
    assert (told["data"]["contact_email"], told["data"]["amount_cents"]) == (contact_email(3), 7000)

    statement_b = await statement(http, stack, b, campaign_id)
    assert (statement_b["reimbursed_cents"], statement_b["pending_cents"]) == (7000, 500)

    club_token = stack.token("affiliate", affiliate_id=a)
    assigned = await http.get(f"/v1/affiliates/{a}/assigned-tickets", headers={"Authorization": f"Bearer {club_token}"})
    assert [t["ticket_id"] for t in assigned.json()["items"]] == ["t-assigned"]
    other = await http.get(f"/v1/affiliates/{b}/statement", headers={"Authorization": f"Bearer {club_token}"})
    assert other.status_code == 404


async def test_a_batch_left_without_a_campaign_is_for_the_only_campaign_waiting_and_asks_which_when_several(stack):
    """Its own process and consumer group: what is waiting is exactly what this test published."""
    from stdnum import luhn

    service = stack.service("affiliation", env=AFFILIATION_ENV, own_consumer_group=True)
    await asyncio.to_thread(service.start, timeout=120)
    try:
        async with httpx.AsyncClient(base_url=service.url, timeout=30) as http:
            admin = stack.auth("admin")

            async def batch_without_campaign():
                return await http.post("/v1/reimbursement-batches", headers=admin, json={})

            nothing = await batch_without_campaign()
            assert (nothing.status_code, nothing.json()["error"]["code"]) == (409, "NOTHING_TO_REIMBURSE")

            digits = str(uuid.uuid4().int)
            siren = digits[:8] + luhn.calc_check_digit(digits[:8])
            siret = siren + digits[8:12] + luhn.calc_check_digit(siren + digits[8:12])
            created = await http.post("/v1/affiliates", headers=admin, json={
                "name": "Club de voile", "siret": siret, "activity": "sport", "contact_email": "voile@example.org",
                "address": {"line": "1 quai", "postcode": "92100", "city": "Boulogne-Billancourt"}, "iban": IBANS[0]})
            assert created.status_code == 201, created.text
            affiliate_id = created.json()["affiliate_id"]

            today = datetime.now(PARIS).date()
            first, second = f"c-{uuid.uuid4().hex[:8]}", f"c-{uuid.uuid4().hex[:8]}"
            for campaign_id in (first, second):
                await stack.publish(campaign(campaign_id, opens=today - timedelta(days=200),
                                             valid_until=today + timedelta(days=30)))
            await stack.publish(redeemed(first, affiliate_id, 1000, datetime.now(UTC) - timedelta(days=1)),
                                producer="redemption")
            await stack.caught_up(service.consumer_group, CONSUMED)
            only = await batch_without_campaign()
            assert only.status_code == 201, only.text
            assert (only.json()["campaign_id"], only.json()["total_cents"]) == (first, 1000)

            for campaign_id in (first, second):
                await stack.publish(redeemed(campaign_id, affiliate_id, 500, datetime.now(UTC) - timedelta(days=1)),
                                    producer="redemption")
            await stack.caught_up(service.consumer_group, CONSUMED)
            several = await batch_without_campaign()
            assert (several.status_code, several.json()["error"]["code"]) == (422, "CAMPAIGN_REQUIRED")
            assert sorted(several.json()["error"]["details"]["campaign_ids"]) == sorted([first, second])
    finally:
        await asyncio.to_thread(service.stop)
