"""SIGKILL the redemption process twice under load: every ticket that got a 201 is spent exactly once."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

import httpx
import pytest

from carnet_contracts.topics import REDEMPTION_REDEMPTIONS

pytestmark = pytest.mark.integration

TICKETS = 300
WORKERS = 8


async def test_a_ticket_that_got_a_201_is_spent_exactly_once_across_two_crashes(stack, fresh_redemption):
    process, feed = fresh_redemption
    affiliate_id = await feed.affiliate()
    tickets = await feed.tickets(TICKETS)
    auth = stack.auth("affiliate", affiliate_id=affiliate_id)
    keys = {t.ticket_id: str(uuid.uuid4()) for t in tickets}
    answers: dict[str, httpx.Response] = {}
    queue: asyncio.Queue = asyncio.Queue()
    for t in tickets:
        queue.put_nowait(t)
    retries = Counter()

    async def scanner(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            ticket = queue.get_nowait()
            while True:  # a scanner retries with the same key until it gets an answer
                try:
                    r = await client.post("/v1/redemptions", json={"ticket_code": ticket.code},
                                          headers={**auth, "Idempotency-Key": keys[ticket.ticket_id]})
                except httpx.TransportError:
                    retries["transport"] += 1
                    await asyncio.sleep(0.2)
                    continue
                if r.status_code >= 500:
                    retries[r.status_code] += 1
                    await asyncio.sleep(0.2)
                    continue
                answers[ticket.ticket_id] = r
                break

    async def crash_twice() -> None:
        for fraction in (0.3, 0.6):
            while len(answers) < TICKETS * fraction:
                await asyncio.sleep(0.05)
            await asyncio.to_thread(process.kill)
            await asyncio.sleep(0.5)
            await asyncio.to_thread(process.start, timeout=120)

    async with httpx.AsyncClient(base_url=process.url, timeout=10) as client:
        await asyncio.gather(crash_twice(), *(scanner(client) for _ in range(WORKERS)))

    assert retries["transport"] > 0, "the crashes should have interrupted some requests"
    assert len(answers) == TICKETS
    won = {tid: r.json() for tid, r in answers.items() if r.status_code == 201}
    # Distinct fresh tickets and one scanner: every ticket ends with a 201, whatever was retried.
    assert len(won) == TICKETS, Counter(r.status_code for r in answers.values())

    rows = await feed.fetch(
        """
        SELECT t.ticket_id, t.status, t.redemption_id AS spent_by,
               array_agg(r.redemption_id) FILTER (WHERE r.redemption_id IS NOT NULL) AS redemptions
        FROM tickets t LEFT JOIN redemptions r USING (ticket_id)
        WHERE t.ticket_id = ANY($1::text[]) GROUP BY t.ticket_id
        """,
        list(won),
    )
    for row in rows:
        redemption_id = won[row["ticket_id"]]["redemption_id"]
        assert row["status"] == "redeemed"
        assert [str(r) for r in row["redemptions"]] == [redemption_id]
        assert str(row["spent_by"]) == redemption_id

    def redeemed_events(found):
        return [m for m in found if m.get("event_type") == "TicketRedeemed" and m["data"]["ticket_id"] in won]

    messages = await stack.events(
        REDEMPTION_REDEMPTIONS.name,
        until=lambda found: len({m["event_id"] for m in redeemed_events(found)}) >= TICKETS,
        timeout=60,
    )
    per_ticket: dict[str, set[str]] = {}
    for m in redeemed_events(messages):
        per_ticket.setdefault(m["data"]["ticket_id"], set()).add(m["event_id"])
        assert m["data"]["redemption_id"] == won[m["data"]["ticket_id"]]["redemption_id"]
    assert {tid: len(ids) for tid, ids in per_ticket.items()} == {tid: 1 for tid in won}
