"""The hot path's one statement on the real PostgreSQL: the event it writes is the TicketRedeemed the
runtime's outbox would write for that ticket, and the answer it keeps is the 201 given."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import datetime

import asyncpg
import httpx
import pytest

from carnet_contracts.envelope import Envelope
from carnet_contracts.events import TicketRedeemed
from carnet_runtime.outbox import NOTIFY_CHANNEL, Outbox

from .test_redemption_on_the_stack import headers

pytestmark = pytest.mark.integration


async def test_the_statement_writes_the_ticket_redeemed_event_and_keeps_the_201_it_answers(stack, redemption):
    process, feed = redemption
    affiliate_id = await feed.affiliate()
    [ticket] = await feed.tickets(1, amount_cents=2500, affiliate_id=affiliate_id)
    key = str(uuid.uuid4())
    async with httpx.AsyncClient(base_url=process.url, timeout=30) as client:
        answer = await client.post("/v1/redemptions", json={"ticket_code": ticket.code},
                                   headers=headers(stack, affiliate_id, key))
    assert answer.status_code == 201
    body = answer.json()

    [row] = await feed.fetch("SELECT message_key, topic, event_type, envelope::text AS envelope FROM outbox "
                             "WHERE event_type = 'TicketRedeemed' AND message_key = $1", ticket.ticket_id)
    envelope = Envelope.model_validate(json.loads(row["envelope"]))
    event = envelope.unwrap()
    expected = TicketRedeemed(
        redemption_id=body["redemption_id"], ticket_id=ticket.ticket_id, wallet_id=ticket.wallet_id,
        campaign_id=feed.campaign_id, affiliate_id=affiliate_id, amount_cents=2500, code_suffix=ticket.code[-4:],
        redeemed_at=datetime.fromisoformat(body["redeemed_at"]))
    assert event == expected
    reference = Outbox("redemption").row(expected)
    assert (row["topic"], row["message_key"], row["event_type"]) == (reference.topic, reference.message_key,
                                                                     reference.event_type)
    assert {k: v for k, v in envelope.model_dump(mode="json").items() if k not in ("event_id", "occurred_at")} == {
        k: v for k, v in reference.envelope.items() if k not in ("event_id", "occurred_at")}

    [kept] = await feed.fetch("SELECT status_code, answer::text AS answer FROM idempotency_keys "
                              "WHERE affiliate_id = $1 AND idempotency_key = $2", affiliate_id, key)
    assert kept["status_code"] == 201 and json.loads(kept["answer"]) == body
    assert list(json.loads(kept["answer"])) == list(body)  # the same fields in the same order: replays read the same


async def test_a_scan_does_not_notify_the_relay_yet_its_event_is_published(stack, redemption):
    """The scanner's statements leave NOTIFY out (it would make concurrent scans commit one at a time):
    a listener on the outbox's channel hears nothing from a 201 nor from a kept refusal, and the relay,
    which polls instead, still publishes both events."""
    process, feed = redemption
    affiliate_id = await feed.affiliate()
    [ticket] = await feed.tickets(1, affiliate_id=affiliate_id)
    heard: list[str] = []
    listener = await asyncpg.connect(feed.database_url)
    try:
        await listener.add_listener(NOTIFY_CHANNEL, lambda *args: heard.append(args[2]))
        async with httpx.AsyncClient(base_url=process.url, timeout=30) as client:
            spent = await client.post("/v1/redemptions", json={"ticket_code": ticket.code},
                                      headers=headers(stack, affiliate_id, str(uuid.uuid4())))
            again = await client.post("/v1/redemptions", json={"ticket_code": ticket.code},
                                      headers=headers(stack, affiliate_id, str(uuid.uuid4())))
        assert (spent.status_code, again.json()["error"]["code"]) == (201, "TICKET_ALREADY_REDEEMED")
        sent = await feed.until(
            "SELECT count(*) = 2 FROM outbox WHERE state = 'sent' AND event_type IN ('TicketRedeemed', "
            "'RedemptionRejected') AND (envelope -> 'data' ->> 'ticket_id') = $1", ticket.ticket_id, timeout=10)
        assert sent
        await asyncio.sleep(0.2)  # a notification sent at either commit would have arrived by now
        assert heard == []
    finally:
        await listener.close()
