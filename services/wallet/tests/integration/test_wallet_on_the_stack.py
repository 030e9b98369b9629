"""The wallet service as a process on the real PostgreSQL and Kafka."""

from __future__ import annotations

import asyncio
import io
import json
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import httpx
import pypdf
import pytest

from carnet_contracts import ticket_code
from carnet_contracts.events import (
    AffiliateActivated,
    AffiliateSuspended,
    CampaignPublished,
    PassGranted,
    RedemptionCancelled,
    TicketRedeemed,
    TicketVoided,
    TicketVoidRefused,
)
from carnet_contracts.topics import WALLET_TICKETS, WALLET_WALLETS

pytestmark = pytest.mark.integration


async def test_pass_granted_to_wallet_created_to_ticket_credited_whose_event_has_the_hash_not_the_code(
    stack, wallet, feed
):
    process, _ = wallet
    granted = feed.pass_granted()
    wallet_id = await feed.wallet_of(granted)
    family = stack.auth("family", sub=granted.family_sub)
    async with httpx.AsyncClient(base_url=process.url, timeout=30) as client:
        shown = (await client.get(f"/v1/wallets/{wallet_id}", headers=family)).json()
        assert [t["position"] for t in shown["tickets"]] == [1, 2, 3, 4, 5, 6, 7]
        assert {t["status"] for t in shown["tickets"]} == {"blank"}
        assert (shown["allowance_cents"], shown["remaining_cents"], shown["valid_until"]) == (
            7000, 7000, feed.valid_until.isoformat())
        first = shown["tickets"][0]["ticket_id"]
        answer = await client.post(f"/v1/wallets/{wallet_id}/tickets/{first}/credit", headers=family,
                                   json={"amount_cents": 1000})
        assert answer.status_code == 200, answer.text
        code = answer.json()["code"]
        assert ticket_code.parse(code) == code
        again = (await client.get(f"/v1/wallets/{wallet_id}", headers=family)).json()
        assert (again["credited_cents"], again["remaining_cents"]) == (1000, 6000)
        assert again["tickets"][0]["code"] == code
        admin_view = (await client.get(f"/v1/wallets/{wallet_id}", headers=stack.auth("admin"))).json()
        assert admin_view["tickets"][0]["code"] is None, "codes are for the family only"

    # A test consumer of wallet.tickets, once the wallet's outbox is empty (every event about the
    # ticket is on the topic): it finds the keyed hash and the suffix, never the code.
    await feed.until("SELECT count(*) = 0 FROM outbox WHERE state = 'pending'")
    records = await stack.read_to_end(WALLET_TICKETS.name, raw=True)
    mine = [r for r in records if first.encode() in r.value]
    [credited] = [r for r in mine if b'"TicketCredited"' in r.value]
    data = json.loads(credited.value)["data"]
    key = stack.secrets["CARNET_TICKET_CODE_HASH_KEY"].encode()
    assert data["code_hash"] == ticket_code.code_hash(code, key)
    assert data["code_suffix"] == code[-4:]
    assert (data["amount_cents"], data["wallet_id"], data["position"]) == (1000, wallet_id, 1)
    assert credited.key == first.encode()
    for record in mine:
        for form in (code, ticket_code.format_groups(code), code.lower()):
            assert form.encode() not in record.value


async def test_twenty_concurrent_credits_of_one_wallet_never_exceed_the_allowance(stack, wallet, feed):
    process, _ = wallet
    granted = feed.pass_granted(tickets_per_pass=20, allowance_cents=7000)
    wallet_id = await feed.wallet_of(granted)
    family = stack.auth("family", sub=granted.family_sub)
    async with httpx.AsyncClient(base_url=process.url, timeout=60,
                                 limits=httpx.Limits(max_connections=20)) as client:
        tickets = (await client.get(f"/v1/wallets/{wallet_id}", headers=family)).json()["tickets"]
        answers = await asyncio.gather(*(
            client.post(f"/v1/wallets/{wallet_id}/tickets/{t['ticket_id']}/credit", headers=family,
                        json={"amount_cents": 1000})
            for t in tickets
        ))
        shown = (await client.get(f"/v1/wallets/{wallet_id}", headers=family)).json()
    statuses = Counter(a.status_code for a in answers)
    assert statuses == {200: 7, 409: 13}, statuses
    assert {a.json()["error"]["code"] for a in answers if a.status_code == 409} == {"ALLOWANCE_EXCEEDED"}
    assert (shown["credited_cents"], shown["remaining_cents"]) == (7000, 0)
    assert sum(t["status"] == "credited" for t in shown["tickets"]) == 7
    stored = await feed.fetchval(
        "SELECT sum(amount_cents) FROM tickets WHERE wallet_id = $1::uuid AND status <> 'blank'", wallet_id)
    assert stored == 7000


async def test_a_duplicated_and_redelivered_pass_granted_creates_one_wallet(stack, wallet, feed):
    granted = feed.pass_granted()
    first, duplicate = uuid.uuid4(), uuid.uuid4()
    await stack.publish(granted, event_id=first)
    await stack.publish(granted, event_id=first)  # the broker redelivers
    await stack.publish(granted, event_id=duplicate)  # the producer sent the same fact twice
    process, _ = wallet
    await stack.caught_up(process.consumer_group, [PassGranted.topic.name])  # the three deliveries handled
    assert await feed.fetchval("SELECT count(*) FROM inbox WHERE event_id = ANY($1::uuid[])", [first, duplicate]) == 2
    assert await feed.fetchval("SELECT count(*) FROM wallets WHERE application_id = $1", granted.application_id) == 1
    assert await feed.fetchval(
        "SELECT count(*) FROM tickets JOIN wallets USING (wallet_id) WHERE application_id = $1",
        granted.application_id) == 7
    # Once the wallet's outbox is empty, everything it will say about this pass is on the topic.
    await feed.until("SELECT count(*) = 0 FROM outbox WHERE state = 'pending'")
    created = await stack.read_to_end(WALLET_WALLETS.name)
    assert sum(m["event_type"] == "WalletCreated" and m["data"]["application_id"] == granted.application_id
               for m in created) == 1


async def test_refusals_voiding_redemption_events_sheet_access_and_figures(stack, wallet, feed):
    process, _ = wallet
    granted = feed.pass_granted()
    wallet_id = await feed.wallet_of(granted)
    family = stack.auth("family", sub=granted.family_sub)
    club, closed = f"aff-{uuid.uuid4().hex[:8]}", f"aff-{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC)
    await stack.publish(AffiliateActivated(affiliate_id=club, name="Club de judo de Nanterre", activity="sport",
                                           city="Nanterre", postcode="92000", activated_at=now))
    await stack.publish(AffiliateActivated(affiliate_id=closed, name="Théâtre", activity="culture",
                                           city="Sceaux", postcode="92330", activated_at=now))
    await stack.publish(AffiliateSuspended(affiliate_id=closed, suspended_at=now))
    await feed.until("SELECT count(*) = 2 FROM affiliates WHERE affiliate_id IN ($1, $2) AND active = (affiliate_id = $1)",
                     club, closed)
    async with httpx.AsyncClient(base_url=process.url, timeout=30) as client:
        tickets = (await client.get(f"/v1/wallets/{wallet_id}", headers=family)).json()["tickets"]
        t1, t2, t3 = (t["ticket_id"] for t in tickets[:3])

        async def credit(ticket_id, **body):
            r = await client.post(f"/v1/wallets/{wallet_id}/tickets/{ticket_id}/credit", headers=family, json=body)
            return r.status_code, r.json()

        status, body = await credit(t1, amount_cents=400)
        assert (status, body["error"]["code"]) == (422, "AMOUNT_OUT_OF_RANGE")
        assert body["error"]["message"] == "Le montant d'un ticket doit être compris entre 5,00\u00a0€ et 70,00\u00a0€."
        status, body = await credit(t1, amount_cents=1000, affiliate_id=closed)
        assert (status, body["error"]["code"]) == (422, "AFFILIATE_NOT_ACTIVE")
        status, body = await credit(t1, amount_cents="dix")
        assert (status, body["error"]["code"]) == (422, "VALIDATION_ERROR")
        assert (await credit(t1, amount_cents=3000, affiliate_id=club))[0] == 200
        status, body = await credit(t1, amount_cents=1000)
        assert (status, body["error"]["code"]) == (409, "TICKET_NOT_BLANK")
        assert (await credit(t2, amount_cents=3000))[0] == 200
        status, body = await credit(t3, amount_cents=1001)
        assert (status, body["error"]["code"]) == (409, "ALLOWANCE_EXCEEDED")

        stranger = await client.get(f"/v1/wallets/{wallet_id}", headers=stack.auth("family"))
        assert stranger.status_code == 404
        assert (await client.get(f"/v1/wallets/{wallet_id}")).status_code == 401

        # The sheet: the family, the school's correspondent and the notification service may fetch it.
        notification = stack.auth("service", sub="notification", scope="wallet.tickets_pdf")
        for who in (family, stack.auth("correspondent", school_id=granted.school_id), notification):
            pdf = await client.get(f"/v1/wallets/{wallet_id}/tickets.pdf?positions=1,2", headers=who)
            assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
        text = pypdf.PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text()
        assert "30,00 €" in text and "Léa Martin" in text and "Club de judo de Nanterre" in text
        other_school = await client.get(f"/v1/wallets/{wallet_id}/tickets.pdf",
                                        headers=stack.auth("correspondent", school_id="0920999Z"))
        assert other_school.status_code == 403
        blank = await client.get(f"/v1/wallets/{wallet_id}/tickets.pdf?positions=3", headers=family)
        assert (blank.status_code, blank.json()["error"]["code"]) == (409, "TICKET_NOT_PRINTABLE")

        mail = await client.post(f"/v1/wallets/{wallet_id}/tickets/email", headers=family)
        assert mail.status_code == 202 and mail.json()["positions"] == [1, 2]

        # Voiding: pending until the redemption service answers.
        void = await client.post(f"/v1/wallets/{wallet_id}/tickets/{t2}/void", headers=family)
        assert void.status_code == 202 and void.json()["status"] == "void_pending"
        common = dict(wallet_id=wallet_id, campaign_id=feed.campaign_id)
        await stack.publish(TicketVoided(ticket_id=t2, amount_cents=3000, voided_at=now, **common))
        await feed.until("SELECT status = 'voided' FROM tickets WHERE ticket_id = $1::uuid", t2)
        shown = (await client.get(f"/v1/wallets/{wallet_id}", headers=family)).json()
        assert shown["remaining_cents"] == 4000 and shown["tickets"][1]["status"] == "voided"

        # A ticket spent at the counter, its void refused, then its redemption cancelled.
        await stack.publish(TicketRedeemed(redemption_id=str(uuid.uuid4()), ticket_id=t1, affiliate_id=club,
                                           amount_cents=3000, code_suffix="XXXX", redeemed_at=now, **common))
        await feed.until("SELECT status = 'redeemed' FROM tickets WHERE ticket_id = $1::uuid", t1)
        refused_void = await client.post(f"/v1/wallets/{wallet_id}/tickets/{t1}/void", headers=family)
        assert (refused_void.status_code, refused_void.json()["error"]["code"]) == (409, "TICKET_NOT_CREDITED")
        await stack.publish(RedemptionCancelled(redemption_id=str(uuid.uuid4()), ticket_id=t1, affiliate_id=club,
                                                amount_cents=3000, cancelled_at=now, **common))
        await feed.until("SELECT status = 'credited' FROM tickets WHERE ticket_id = $1::uuid", t1)
        assert (await client.post(f"/v1/wallets/{wallet_id}/tickets/{t1}/void", headers=family)).status_code == 202
        await stack.publish(TicketVoidRefused(ticket_id=t1, reason_code="TICKET_ALREADY_REDEEMED",
                                              reason="Ce ticket a déjà été utilisé.", **common))
        await feed.until("SELECT status = 'credited' AND void_refusal_reason IS NOT NULL FROM tickets "
                         "WHERE ticket_id = $1::uuid", t1)

        assign = await client.put(f"/v1/wallets/{wallet_id}/tickets/{t1}/affiliate", headers=family,
                                  json={"affiliate_id": None})
        assert assign.status_code == 200 and assign.json()["affiliate_id"] is None

        figures = await client.get(f"/v1/stats?campaign_id={feed.campaign_id}", headers=stack.auth("admin"))
        assert (await client.get("/v1/stats", headers=family)).status_code == 403
    body = figures.json()
    assert body["passes_with_wallet"] == 1 and body["credited_cents"] == 3000
    assert body["tickets_by_status"] == {"blank": 5, "credited": 1, "redeemed": 0, "void_pending": 0,
                                         "voided": 1, "expired": 0}
    assert body["watched_amounts"] == {"1000": 0, "3000": 1, "7000": 0}
    await feed.until("SELECT count(*) = 0 FROM outbox WHERE state = 'pending'")
    events = await stack.read_to_end(WALLET_TICKETS.name)
    kinds = Counter(m["event_type"] for m in events if m["data"].get("wallet_id") == wallet_id)
    assert kinds == {"TicketCredited": 2, "TicketVoidRequested": 2, "TicketAssigned": 1}
    requested = await stack.wait_for_event(
        WALLET_WALLETS.name, lambda m: m["event_type"] == "TicketsEmailRequested" and m["data"]["wallet_id"] == wallet_id)
    assert requested["data"]["positions"] == [1, 2]
    assert requested["data"]["guardian_email"] == granted.guardian.email
    assert not [field for field in requested["data"] if "code" in field]


async def test_a_republished_campaign_carries_its_new_validity_end_to_its_wallets(stack, wallet, feed):
    process, _ = wallet
    granted = feed.pass_granted()
    wallet_id = await feed.wallet_of(granted)
    extended = feed.valid_until + timedelta(days=30)  # the campaign prolonged by a month
    await stack.publish(CampaignPublished(
        campaign_id=feed.campaign_id, label=f"{feed.label} (prolongé)",
        enrolment_opens=feed.valid_until - timedelta(days=300), enrolment_closes=feed.valid_until - timedelta(days=120),
        pass_valid_until=extended, reimbursement_deadline=extended + timedelta(days=31), allowance_cents=9000,
        tickets_per_pass=7, ticket_min_cents=500, ticket_max_cents=7000, eligible_postcode_prefixes=["92"],
        eligible_levels=["6e", "5e", "4e", "3e"],
    ))
    await feed.until("SELECT valid_until = $2 FROM wallets WHERE wallet_id = $1::uuid", wallet_id, extended)
    async with httpx.AsyncClient(base_url=process.url, timeout=30) as client:
        shown = (await client.get(f"/v1/wallets/{wallet_id}",
                                  headers=stack.auth("family", sub=granted.family_sub))).json()
    assert shown["valid_until"] == extended.isoformat()
    assert shown["campaign_label"] == f"{feed.label} (prolongé)"
    assert shown["allowance_cents"] == 7000, "a granted pass keeps its allowance"
    later = feed.pass_granted()
    await feed.wallet_of(later)
    assert await feed.fetchval("SELECT valid_until FROM wallets WHERE application_id = $1",
                               later.application_id) == extended
