"""Void gives the ticket back, a lost ticket is replaced, the admin corrects a redemption late (issues 14
and 15), on the real PostgreSQL and Kafka: the events come in through Kafka as the wallet and
affiliation publish them."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import Counter
from datetime import UTC, datetime

import httpx
import pytest

from carnet_contracts import ticket_code
from carnet_contracts.events import (
    ReimbursementBatchCreated,
    TicketCredited,
    TicketReplaceRequested,
    TicketVoidRequested,
)

from .conftest import Credited, Feed
from .test_redemption_on_the_stack import events_for, headers

pytestmark = pytest.mark.integration


def void_requested(feed: Feed, ticket: Credited) -> TicketVoidRequested:
    return TicketVoidRequested(ticket_id=ticket.ticket_id, wallet_id=ticket.wallet_id, campaign_id=feed.campaign_id,
                               requested_at=datetime.now(UTC))


def replace_requested(feed: Feed, ticket: Credited) -> tuple[str, TicketReplaceRequested]:
    new = ticket_code.generate()
    return new, TicketReplaceRequested(
        ticket_id=ticket.ticket_id, wallet_id=ticket.wallet_id, campaign_id=feed.campaign_id,
        new_code_hash=ticket_code.code_hash(new, feed.key), new_code_suffix=new[-4:], requested_at=datetime.now(UTC))


async def test_a_voided_ticket_credited_again_redeems_under_its_new_code_and_its_old_one_is_refused_for_ever(
    stack, redemption
):
    process, feed = redemption
    affiliate_id = await feed.affiliate()
    [ticket] = await feed.tickets(1, amount_cents=1000)
    await feed.publish(void_requested(feed, ticket))
    await feed.until("SELECT true FROM retired_codes WHERE ticket_id = $1 AND reason = 'voided'", ticket.ticket_id)
    new = ticket_code.generate()
    await feed.publish(TicketCredited(
        ticket_id=ticket.ticket_id, wallet_id=ticket.wallet_id, campaign_id=feed.campaign_id, position=1,
        code_hash=ticket_code.code_hash(new, feed.key), code_suffix=new[-4:], amount_cents=2000,
        valid_until="2099-03-31", credited_at=datetime.now(UTC)))
    await feed.until("SELECT status = 'redeemable' FROM tickets WHERE ticket_id = $1", ticket.ticket_id)
    async with httpx.AsyncClient(base_url=process.url, timeout=30) as client:
        old = await client.post("/v1/redemptions", json={"ticket_code": ticket.code},
                                headers=headers(stack, affiliate_id, str(uuid.uuid4())))
        assert (old.status_code, old.json()["error"]["code"]) == (409, "TICKET_VOIDED")
        check = await client.get(f"/v1/tickets/{ticket.code}", headers=headers(stack, affiliate_id))
        assert (check.status_code, check.json()["error"]["code"]) == (409, "TICKET_VOIDED")
        assert check.json()["redeemable"] is False
        won = await client.post("/v1/redemptions", json={"ticket_code": new},
                                headers=headers(stack, affiliate_id, str(uuid.uuid4())))
        assert won.status_code == 201 and (won.json()["ticket_id"], won.json()["amount_cents"]) == (ticket.ticket_id, 2000)
        again = await client.post("/v1/redemptions", json={"ticket_code": ticket.code},
                                  headers=headers(stack, affiliate_id, str(uuid.uuid4())))
        assert again.json()["error"]["code"] == "TICKET_VOIDED"
    events = await events_for(stack, {ticket.ticket_id},
                              lambda found: {"TicketVoided", "TicketRedeemed"} <= {m["event_type"] for m in found})
    assert [m["event_type"] for m in events if m["event_type"] != "RedemptionRejected"] == ["TicketVoided",
                                                                                            "TicketRedeemed"]


async def test_a_replaced_code_is_refused_ticket_replaced_and_the_new_code_is_redeemable(stack, redemption):
    process, feed = redemption
    affiliate_id = await feed.affiliate()
    [ticket, spent] = await feed.tickets(2, amount_cents=1500)
    async with httpx.AsyncClient(base_url=process.url, timeout=30) as client:
        first = await client.post("/v1/redemptions", json={"ticket_code": spent.code},
                                  headers=headers(stack, affiliate_id, str(uuid.uuid4())))
        assert first.status_code == 201
        new, replace = replace_requested(feed, ticket)
        too_late_code, too_late = replace_requested(feed, spent)
        await feed.publish(replace, too_late)
        events = await events_for(
            stack, {ticket.ticket_id, spent.ticket_id},
            lambda found: {"TicketReplaced", "TicketReplaceRefused"} <= {m["event_type"] for m in found})
        [replaced] = [m for m in events if m["event_type"] == "TicketReplaced"]
        [refused] = [m for m in events if m["event_type"] == "TicketReplaceRefused"]
        assert replaced["data"]["ticket_id"] == ticket.ticket_id
        assert refused["data"]["ticket_id"] == spent.ticket_id
        assert refused["data"]["reason_code"] == "TICKET_ALREADY_REDEEMED"
        assert refused["data"]["affiliate_id"] == affiliate_id
        assert datetime.fromisoformat(refused["data"]["redeemed_at"]) == datetime.fromisoformat(
            first.json()["redeemed_at"])

        old = await client.post("/v1/redemptions", json={"ticket_code": ticket.code},
                                headers=headers(stack, affiliate_id, str(uuid.uuid4())))
        assert (old.status_code, old.json()["error"]["code"]) == (409, "TICKET_REPLACED")
        assert "perdu" in old.json()["error"]["message"]
        check = await client.get(f"/v1/tickets/{ticket.code}", headers=headers(stack, affiliate_id))
        assert (check.status_code, check.json()["error"]["code"]) == (409, "TICKET_REPLACED")
        fresh = await client.get(f"/v1/tickets/{new}", headers=headers(stack, affiliate_id))
        assert fresh.status_code == 200 and fresh.json()["code_suffix"] == new[-4:]
        won = await client.post("/v1/redemptions", json={"ticket_code": new},
                                headers=headers(stack, affiliate_id, str(uuid.uuid4())))
        assert won.status_code == 201 and won.json()["ticket_id"] == ticket.ticket_id
        never = await client.post("/v1/redemptions", json={"ticket_code": too_late_code},
                                  headers=headers(stack, affiliate_id, str(uuid.uuid4())))
        assert never.json()["error"]["code"] == "TICKET_UNKNOWN"


RACES = 60


async def test_a_replace_racing_a_redemption_of_the_old_code_ends_with_exactly_one_of_them_every_time(
    stack, redemption
):
    """Each ticket's replacement (through Kafka) and three scans of its old code are in flight together,
    the scans spread over the time the replacements take to land: per ticket, either the redemption won
    (one 201, the replacement refused) or the replacement did (no 201, the old code refused), never both;
    the database and the event log say the same."""
    process, feed = redemption
    affiliate_id = await feed.affiliate()
    tickets = await feed.tickets(RACES)
    new_codes, replaces = {}, []
    for ticket in tickets:
        new_codes[ticket.ticket_id], event = replace_requested(feed, ticket)
        replaces.append(event)
    auth = stack.auth("affiliate", affiliate_id=affiliate_id)
    rng = random.Random(17)
    answers: dict[str, list[httpx.Response]] = {t.ticket_id: [] for t in tickets}
    async with httpx.AsyncClient(base_url=process.url, timeout=60, limits=httpx.Limits(max_connections=100)) as client:
        async def scan(ticket: Credited, delay: float) -> None:
            await asyncio.sleep(delay)
            answers[ticket.ticket_id].append(await client.post(
                "/v1/redemptions", json={"ticket_code": ticket.code},
                headers={**auth, "Idempotency-Key": str(uuid.uuid4())}))

        await asyncio.gather(feed.publish(*replaces),
                             *(scan(t, rng.uniform(0, 1.5)) for t in tickets for _ in range(3)))
        await feed.until("SELECT count(*) = $1 FROM outbox WHERE event_type IN ('TicketReplaced', 'TicketReplaceRefused')"
                         " AND message_key = ANY($2::text[])", RACES, [t.ticket_id for t in tickets])
        # The new code works when the replacement won (an unknown code is tried only in the database:
        # this module's process throttles an affiliate after 3 unknown codes).
        new_answers = {t.ticket_id: await client.post("/v1/redemptions", json={"ticket_code": new_codes[t.ticket_id]},
                                                      headers={**auth, "Idempotency-Key": str(uuid.uuid4())})
                       for t in tickets if not any(a.status_code == 201 for a in answers[t.ticket_id])}

    rows = {r["ticket_id"]: r for r in await feed.fetch(
        """
        SELECT t.ticket_id, t.status, t.code_hash, x.reason AS retired,
               (SELECT count(*) FROM redemptions r WHERE r.ticket_id = t.ticket_id) AS redemptions
        FROM tickets t LEFT JOIN retired_codes x ON x.ticket_id = t.ticket_id
        WHERE t.ticket_id = ANY($1::text[])
        """, [t.ticket_id for t in tickets])}
    events = await events_for(
        stack, set(answers),
        lambda found: sum(m["event_type"] in ("TicketReplaced", "TicketReplaceRefused") for m in found) >= RACES)
    by_ticket: dict[str, Counter] = {t: Counter() for t in answers}
    for m in events:
        by_ticket[m["data"]["ticket_id"]][m["event_type"]] += 1

    outcomes = Counter()
    for ticket in tickets:
        tid = ticket.ticket_id
        codes = Counter(a.json().get("error", {}).get("code", a.status_code) for a in answers[tid])
        log = by_ticket[tid]
        if codes[201]:
            outcomes["redemption won"] += 1
            assert codes[201] == 1 and set(codes) <= {201, "TICKET_ALREADY_REDEEMED"}, codes
            assert (log["TicketRedeemed"], log["TicketReplaced"], log["TicketReplaceRefused"]) == (1, 0, 1), log
            assert (rows[tid]["status"], rows[tid]["retired"], rows[tid]["redemptions"]) == ("redeemed", None, 1)
            assert rows[tid]["code_hash"] == ticket_code.code_hash(ticket.code, feed.key)
        else:
            outcomes["replacement won"] += 1
            assert set(codes) == {"TICKET_REPLACED"}, codes
            assert (log["TicketReplaced"], log["TicketReplaceRefused"]) == (1, 0), log
            assert (rows[tid]["retired"], rows[tid]["redemptions"]) == ("replaced", 1)  # the one with the new code
            assert new_answers[tid].status_code == 201
            assert rows[tid]["code_hash"] == ticket_code.code_hash(new_codes[tid], feed.key)
    print(f"replace vs redemption, {RACES} races: {dict(outcomes)}")


async def test_the_admin_cancels_late_with_a_reason_then_voids_and_is_refused_once_batched(stack, redemption):
    process, feed = redemption
    strict = feed.another_campaign()
    await strict.campaign(grace_minutes=0)  # the affiliate's own cancel is always too late here
    affiliate_id = await feed.affiliate()
    first, second, third = await strict.tickets(3, amount_cents=1200)
    admin = stack.auth("admin", sub="staff-dpt-7")
    async with httpx.AsyncClient(base_url=process.url, timeout=30) as client:
        async def redeem(code: str) -> dict:
            r = await client.post("/v1/redemptions", json={"ticket_code": code},
                                  headers=headers(stack, affiliate_id, str(uuid.uuid4())))
            assert r.status_code == 201
            return r.json()

        one, two, three = [await redeem(t.code) for t in (first, second, third)]
        mine = await client.post(f"/v1/redemptions/{one['redemption_id']}/cancel", headers=headers(stack, affiliate_id))
        assert mine.json()["error"]["code"] == "CANCEL_PERIOD_OVER"
        no_reason = await client.post(f"/v1/redemptions/{one['redemption_id']}/cancel", headers=admin)
        assert no_reason.status_code == 422 and no_reason.json()["error"]["details"]["fields"][0]["field"] == "reason"
        blank = await client.post(f"/v1/redemptions/{one['redemption_id']}/cancel", headers=admin,
                                  json={"reason": "  ", "then": "redeemable"})
        assert blank.status_code == 422
        family = await client.post(f"/v1/redemptions/{one['redemption_id']}/cancel", headers=stack.auth("family"),
                                   json={"reason": "x"})
        assert family.status_code == 403

        corrected = await client.post(f"/v1/redemptions/{one['redemption_id']}/cancel", headers=admin,
                                      json={"reason": "Encaissé deux fois par erreur", "then": "redeemable"})
        assert corrected.status_code == 200
        body = corrected.json()
        assert (body["status"], body["cancelled_by_role"], body["cancel_reason"], body["cancel_then"]) == (
            "cancelled", "admin", "Encaissé deux fois par erreur", "redeemable")
        assert (await client.post("/v1/redemptions", json={"ticket_code": first.code},
                                  headers=headers(stack, affiliate_id, str(uuid.uuid4())))).status_code == 201

        voided = await client.post(f"/v1/redemptions/{two['redemption_id']}/cancel", headers=admin,
                                   json={"reason": "Ticket déclaré volé avant l'encaissement", "then": "void"})
        assert voided.status_code == 200 and voided.json()["cancel_then"] == "void"
        refused = await client.post("/v1/redemptions", json={"ticket_code": second.code},
                                    headers=headers(stack, affiliate_id, str(uuid.uuid4())))
        assert refused.json()["error"]["code"] == "TICKET_VOIDED"

        await feed.publish(ReimbursementBatchCreated(
            batch_id=f"batch-{uuid.uuid4().hex[:6]}", campaign_id=strict.campaign_id,
            redemption_ids=[three["redemption_id"]], total_cents=1200, count=1, created_at=datetime.now(UTC)))
        await feed.until("SELECT batch_id IS NOT NULL FROM redemptions WHERE redemption_id = $1::uuid",
                         three["redemption_id"])
        locked = await client.post(f"/v1/redemptions/{three['redemption_id']}/cancel", headers=admin,
                                   json={"reason": "trop tard"})
        assert (locked.status_code, locked.json()["error"]["code"]) == (409, "REDEMPTION_IN_REIMBURSEMENT_BATCH")

        listed = (await client.get("/v1/redemptions", params={"from": "2000-01-01", "to": "2999-12-31"},
                                   headers=headers(stack, affiliate_id))).json()
        reasons = {r["redemption_id"]: r["cancel_reason"] for r in listed["redemptions"]}
        assert reasons[two["redemption_id"]] == "Ticket déclaré volé avant l'encaissement"

    [row] = await feed.fetch("SELECT cancelled_by, cancelled_by_role, cancelled_at FROM redemptions "
                             "WHERE redemption_id = $1::uuid", two["redemption_id"])
    assert (row["cancelled_by"], row["cancelled_by_role"]) == ("staff-dpt-7", "admin") and row["cancelled_at"]
    events = await events_for(stack, {second.ticket_id},
                              lambda found: "TicketVoided" in {m["event_type"] for m in found})
    kinds = [m["event_type"] for m in events if m["event_type"] != "RedemptionRejected"]
    assert kinds == ["TicketRedeemed", "RedemptionCancelled", "TicketVoided"]
    cancelled = events[[m["event_type"] for m in events].index("RedemptionCancelled")]["data"]
    assert (cancelled["cancelled_by_role"], cancelled["then"]) == ("admin", "void")
    assert cancelled["reason"] == "Ticket déclaré volé avant l'encaissement"
    assert "staff-dpt-7" not in str(cancelled)


async def test_an_admin_cancel_sent_as_soon_as_a_batch_is_on_kafka_is_refused_in_reimbursement_batch(
        stack, redemption):
    process, feed = redemption
    strict = feed.another_campaign()
    await strict.campaign(grace_minutes=0)
    affiliate_id = await feed.affiliate()
    tickets = await strict.tickets(3, amount_cents=900)
    admin = stack.auth("admin", sub="staff-dpt-8")
    async with httpx.AsyncClient(base_url=process.url, timeout=30) as client:
        redeemed = []
        for ticket in tickets:
            r = await client.post("/v1/redemptions", json={"ticket_code": ticket.code},
                                  headers=headers(stack, affiliate_id, str(uuid.uuid4())))
            assert r.status_code == 201
            redeemed.append(r.json()["redemption_id"])
        # what the affiliation service does before its 201: the batch's event confirmed by Kafka; the
        # admin's cancels follow at once, without waiting for this service to have applied it
        await feed.publish(ReimbursementBatchCreated(
            batch_id=f"batch-{uuid.uuid4().hex[:6]}", campaign_id=strict.campaign_id, redemption_ids=redeemed,
            total_cents=2700, count=3, created_at=datetime.now(UTC)))
        answers = await asyncio.gather(*(
            client.post(f"/v1/redemptions/{rid}/cancel", headers=admin, json={"reason": "Encaissé en double"})
            for rid in redeemed))
    assert [(a.status_code, a.json()["error"]["code"]) for a in answers] == [
        (409, "REDEMPTION_IN_REIMBURSEMENT_BATCH")] * 3
    rows = await feed.fetch("SELECT status FROM redemptions WHERE redemption_id = ANY($1::uuid[])", redeemed)
    assert [r["status"] for r in rows] == ["active"] * 3
