"""The redemption service as a process on the real PostgreSQL and Kafka."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from carnet_contracts.events import ReimbursementBatchCreated, TicketAssigned, TicketVoidRequested
from carnet_contracts.topics import REDEMPTION_REDEMPTIONS

pytestmark = pytest.mark.integration

REPLICA_ENV = {"CARNET_REDEMPTION_MAX_UNKNOWN_CODES": "3"}


def headers(stack, affiliate_id: str, key: str | None = None) -> dict[str, str]:
    h = stack.auth("affiliate", affiliate_id=affiliate_id)
    if key is not None:
        h["Idempotency-Key"] = key
    return h


async def events_for(stack, ticket_ids: set[str], until) -> list[dict]:
    messages = await stack.events(
        REDEMPTION_REDEMPTIONS.name,
        until=lambda found: until([m for m in found if m.get("data", {}).get("ticket_id") in ticket_ids]),
        timeout=30,
    )
    return [m for m in messages if m.get("data", {}).get("ticket_id") in ticket_ids]


async def test_two_hundred_concurrent_redemptions_of_one_ticket_on_two_replicas_give_exactly_one_201(
    stack, redemption
):
    """The guard is in the database: two replicas of the HTTP side share it without any change."""
    process, feed = redemption
    replica = stack.service("redemption", database_url=feed.database_url,  # a replica: same database, same group
                            env={**REPLICA_ENV, "CARNET_REDEMPTION_CONSUMER_GROUP": process.consumer_group})
    await asyncio.to_thread(replica.start, timeout=120)
    try:
        affiliate_id = await feed.affiliate()
        [ticket] = await feed.tickets(1, amount_cents=7000)
        auth = stack.auth("affiliate", affiliate_id=affiliate_id)
        limits = httpx.Limits(max_connections=100)
        async with httpx.AsyncClient(base_url=process.url, timeout=60, limits=limits) as first, \
                httpx.AsyncClient(base_url=replica.url, timeout=60, limits=limits) as second:
            answers = await asyncio.gather(*(
                (first if i % 2 else second).post("/v1/redemptions", json={"ticket_code": ticket.code},
                                                  headers={**auth, "Idempotency-Key": f"k-{i}"})
                for i in range(200)
            ))
    finally:
        await asyncio.to_thread(replica.stop)
    statuses = Counter(a.status_code for a in answers)
    assert statuses == {201: 1, 409: 199}, statuses
    assert {a.json()["error"]["code"] for a in answers if a.status_code == 409} == {"TICKET_ALREADY_REDEEMED"}
    won = next(a.json() for a in answers if a.status_code == 201)
    assert won["amount_cents"] == 7000 and won["ticket_id"] == ticket.ticket_id
    rows = await feed.fetch("SELECT redemption_id FROM redemptions WHERE ticket_id = $1", ticket.ticket_id)
    assert [str(r["redemption_id"]) for r in rows] == [won["redemption_id"]]
    events = await events_for(stack, {ticket.ticket_id},
                              lambda found: sum(m["event_type"] == "RedemptionRejected" for m in found) >= 199)
    redeemed = {m["event_id"] for m in events if m["event_type"] == "TicketRedeemed"}
    assert len(redeemed) == 1


async def test_fifty_concurrent_requests_with_one_key_make_one_redemption_and_one_answer(stack, redemption):
    process, feed = redemption
    affiliate_id = await feed.affiliate()
    [ticket] = await feed.tickets(1)
    h = headers(stack, affiliate_id, f"same-{uuid.uuid4()}")
    async with httpx.AsyncClient(base_url=process.url, timeout=60, limits=httpx.Limits(max_connections=50)) as client:
        answers = await asyncio.gather(*(
            client.post("/v1/redemptions", json={"ticket_code": ticket.code}, headers=h) for _ in range(50)
        ))
        assert {a.status_code for a in answers} == {201}
        assert len({a.text for a in answers}) == 1
        # Later retries too, even spelled differently by the scanner; another ticket under the key is refused.
        again = await client.post("/v1/redemptions", json={"ticket_code": ticket.code.lower()}, headers=h)
        assert again.status_code == 201 and again.json() == answers[0].json()
        [other] = await feed.tickets(1)
        reused = await client.post("/v1/redemptions", json={"ticket_code": other.code}, headers=h)
        assert reused.status_code == 422 and reused.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
        check = await client.get(f"/v1/tickets/{other.code}", headers=h)
        assert check.status_code == 200 and check.json()["redeemable"] is True
    rows = await feed.fetch("SELECT count(*) AS n FROM redemptions WHERE ticket_id = $1", ticket.ticket_id)
    assert rows[0]["n"] == 1


async def test_refusals_say_what_happened_and_change_nothing(stack, redemption):
    process, feed = redemption
    affiliate_id, other_affiliate = await feed.affiliate(), await feed.affiliate()
    reserved, voided, spent = await feed.tickets(3)
    expired_on = feed.today - timedelta(days=400)  # last year's campaign
    [expired] = await feed.tickets(1, valid_until=expired_on)
    now = datetime.now(UTC).isoformat()
    await feed.publish(
        TicketAssigned(ticket_id=reserved.ticket_id, wallet_id=reserved.wallet_id, campaign_id=feed.campaign_id,
                       affiliate_id=other_affiliate, code_suffix=reserved.code[-4:], amount_cents=1000,
                       assigned_at=now),
        TicketVoidRequested(ticket_id=voided.ticket_id, wallet_id=voided.wallet_id, campaign_id=feed.campaign_id,
                            requested_at=now),
    )
    await feed.until("SELECT reserved_for IS NOT NULL FROM tickets WHERE ticket_id = $1", reserved.ticket_id)
    await feed.until("SELECT status = 'voided' FROM tickets WHERE ticket_id = $1", voided.ticket_id)
    async with httpx.AsyncClient(base_url=process.url, timeout=30) as client:
        async def redeem(code, affiliate=affiliate_id):
            r = await client.post("/v1/redemptions", json={"ticket_code": code},
                                  headers=headers(stack, affiliate, str(uuid.uuid4())))
            return r.status_code, r.json()

        status, body = await redeem(reserved.code)
        assert (status, body["error"]["code"]) == (409, "TICKET_RESERVED_FOR_OTHER_AFFILIATE")
        assert "autre organisme" in body["error"]["message"]
        assert (await redeem(reserved.code, other_affiliate))[0] == 201
        status, body = await redeem(voided.code)
        assert (status, body["error"]["code"]) == (409, "TICKET_VOIDED")
        status, body = await redeem(expired.code)
        assert (status, body["error"]["code"]) == (409, "TICKET_EXPIRED")
        assert f"depuis le {expired_on + timedelta(days=1):%d/%m/%Y}" in body["error"]["message"]
        assert (await redeem(spent.code))[0] == 201
        status, body = await redeem(spent.code, other_affiliate)
        assert (status, body["error"]["code"]) == (409, "TICKET_ALREADY_REDEEMED")
        assert "redeemed_at" in body["error"]["details"]
        status, body = await redeem(spent.code[:-1] + ("2" if spent.code[-1] != "2" else "3"))
        assert (status, body["error"]["code"]) == (422, "CODE_MALFORMED")
        no_key = await client.post("/v1/redemptions", json={"ticket_code": spent.code},
                                   headers=headers(stack, affiliate_id))
        assert no_key.status_code == 422
        stranger = await client.post("/v1/redemptions", json={"ticket_code": spent.code},
                                     headers=headers(stack, f"aff-unknown-{uuid.uuid4().hex[:6]}", "k"))
        assert stranger.status_code == 403 and stranger.json()["error"]["code"] == "AFFILIATE_NOT_ACTIVE"
        family = await client.post("/v1/redemptions", json={"ticket_code": spent.code},
                                   headers={**stack.auth("family"), "Idempotency-Key": "k"})
        assert family.status_code == 403
        check = await client.get(f"/v1/tickets/{spent.code}", headers=headers(stack, affiliate_id))
        assert check.status_code == 409 and check.json()["redeemable"] is False
    # The wallet's void request on a spent ticket is refused with the reason.
    await feed.publish(TicketVoidRequested(ticket_id=spent.ticket_id, wallet_id=spent.wallet_id,
                                           campaign_id=feed.campaign_id, requested_at=now))
    events = await events_for(stack, {spent.ticket_id, voided.ticket_id},
                              lambda found: {"TicketVoided", "TicketVoidRefused"} <= {m["event_type"] for m in found})
    refused = next(m for m in events if m["event_type"] == "TicketVoidRefused")
    assert refused["data"]["ticket_id"] == spent.ticket_id
    assert refused["data"]["reason_code"] == "TICKET_ALREADY_REDEEMED"
    rows = await feed.fetch("SELECT status FROM tickets WHERE ticket_id = $1", spent.ticket_id)
    assert rows[0]["status"] == "redeemed"


async def test_too_many_unknown_codes_slow_the_affiliate_down_with_429(stack, redemption):
    from carnet_contracts import ticket_code

    process, feed = redemption
    affiliate_id = await feed.affiliate()
    [ticket] = await feed.tickets(1)
    async with httpx.AsyncClient(base_url=process.url, timeout=30) as client:
        for _ in range(3):  # CARNET_REDEMPTION_MAX_UNKNOWN_CODES=3 for this module's process
            r = await client.post("/v1/redemptions", json={"ticket_code": ticket_code.generate()},
                                  headers=headers(stack, affiliate_id, str(uuid.uuid4())))
            assert r.json()["error"]["code"] == "TICKET_UNKNOWN"
        throttled = await client.post("/v1/redemptions", json={"ticket_code": ticket.code},
                                      headers=headers(stack, affiliate_id, str(uuid.uuid4())))
        assert throttled.status_code == 429
        assert throttled.json()["error"]["code"] == "TOO_MANY_UNKNOWN_CODES"
        assert int(throttled.headers["Retry-After"]) > 0
        assert "réessayez" in throttled.json()["error"]["message"]
        # Another affiliate is not slowed down.
        other = await client.post("/v1/redemptions", json={"ticket_code": ticket.code},
                                  headers=headers(stack, await feed.affiliate(), str(uuid.uuid4())))
        assert other.status_code == 201


async def test_the_redeemer_cancels_within_the_grace_period_but_never_once_batched(stack, redemption):
    process, feed = redemption
    await feed.campaign(grace_minutes=30)
    affiliate_id, other_affiliate = await feed.affiliate(), await feed.affiliate()
    first, second = await feed.tickets(2, amount_cents=1500)
    async with httpx.AsyncClient(base_url=process.url, timeout=30) as client:
        async def redeem(code, affiliate=affiliate_id):
            return await client.post("/v1/redemptions", json={"ticket_code": code},
                                     headers=headers(stack, affiliate, str(uuid.uuid4())))

        one = (await redeem(first.code)).json()
        two = (await redeem(second.code)).json()
        by_other = await client.post(f"/v1/redemptions/{one['redemption_id']}/cancel",
                                     headers=headers(stack, other_affiliate))
        assert by_other.status_code == 403
        cancelled = await client.post(f"/v1/redemptions/{one['redemption_id']}/cancel",
                                      headers=headers(stack, affiliate_id))
        assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
        assert (await redeem(first.code, other_affiliate)).status_code == 201  # redeemable again

        await feed.publish(ReimbursementBatchCreated(
            batch_id=f"batch-{uuid.uuid4().hex[:6]}", campaign_id=feed.campaign_id,
            redemption_ids=[two["redemption_id"]], total_cents=1500, count=1, created_at=datetime.now(UTC)))
        await feed.until("SELECT batch_id IS NOT NULL FROM redemptions WHERE redemption_id = $1::uuid",
                         two["redemption_id"])
        locked = await client.post(f"/v1/redemptions/{two['redemption_id']}/cancel",
                                   headers=headers(stack, affiliate_id))
        assert locked.status_code == 409
        assert locked.json()["error"]["code"] == "REDEMPTION_IN_REIMBURSEMENT_BATCH"

        strict = feed.another_campaign()  # a campaign that allows no cancel at all
        await strict.campaign(grace_minutes=0)
        [late] = await strict.tickets(1)
        too_late = (await redeem(late.code)).json()
        refused = await client.post(f"/v1/redemptions/{too_late['redemption_id']}/cancel",
                                    headers=headers(stack, affiliate_id))
        assert refused.status_code == 409 and refused.json()["error"]["code"] == "CANCEL_PERIOD_OVER"

        listed = (await client.get("/v1/redemptions", params={"from": "2000-01-01", "to": "2999-12-31"},
                                   headers=headers(stack, affiliate_id))).json()
        assert {r["redemption_id"]: r["status"] for r in listed["redemptions"]} == {
            one["redemption_id"]: "cancelled", two["redemption_id"]: "active", too_late["redemption_id"]: "active"}
        assert listed["total_cents"] == 1500 + 1000
    events = await events_for(stack, {first.ticket_id},
                              lambda found: sum(m["event_type"] == "TicketRedeemed" for m in found) >= 2)
    assert Counter(m["event_type"] for m in events) == {"TicketRedeemed": 2, "RedemptionCancelled": 1}
