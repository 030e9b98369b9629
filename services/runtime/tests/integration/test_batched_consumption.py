"""The batch path of the consumers, on the real broker and database: a backlog is applied in batches,
one transaction each, and the batch keeps every promise of one event at a time.

The sink is stopped while the source's relay puts a backlog on the topic, then started: its consumer
then finds many records already there and takes them as batches (up to CARNET_CONSUMER_BATCH_MAX_RECORDS).
"""

from __future__ import annotations

import asyncio
import re
import uuid

import httpx
import pytest

pytestmark = pytest.mark.integration


async def _backlog(probe, *emits: tuple[int, int, str]) -> None:
    """Put events on the topic while the sink is stopped: emitted, then all confirmed by Kafka."""
    probe.sink.stop()
    for start, count, name in emits:
        await probe.emit(start, count, per_transaction=count, name=name)
    while (await probe.outbox())[1] > 0:
        await asyncio.sleep(0.1)


async def _metric(url: str, name: str, **labels: str) -> float:
    async with httpx.AsyncClient(timeout=10) as client:
        text = (await client.get(url + "/metrics")).text
    wanted = [f'{k}="{v}"' for k, v in labels.items()]
    total = 0.0
    for line in text.splitlines():
        match = re.match(rf"^{name}(?:{{(.*)}})? (\S+)$", line)
        if match and all(w in (match.group(1) or "") for w in wanted):
            total += float(match.group(2))
    return total


async def test_a_poison_message_in_the_middle_of_a_batch_goes_alone_to_the_dead_letter_topic_and_the_rest_is_applied_once(
        stack, probe):
    await _backlog(probe, (0, 30, "École"), (500, 1, "poison"), (30, 30, "École"))
    probe.sink.start()

    applied = await probe.wait_applied(60, timeout=120)
    assert set(applied) == {f"s{i}" for i in range(60)}
    assert [school for school, times in applied.items() if times != 1] == []
    dead = await stack.events(f"{probe.topic}.dlt", raw=True, until=lambda found: len(found) >= 1, timeout=30)
    assert len(dead) == 1
    assert "this school cannot be applied" in dict(dead[0].headers)["x-dead-letter-reason"].decode()
    # the poison met a batch: its transaction failed and its events were applied one at a time
    assert "its events are applied one at a time" in probe.sink.tail(400)
    assert await _metric(probe.sink.url, "carnet_events_consumed_total", outcome="dead_lettered") == 1


async def test_a_batch_delivered_again_is_applied_once(stack, probe):
    await _backlog(probe, (0, 80, "École"))
    probe.sink.start()
    await probe.wait_applied(80, timeout=120)
    transactions_first = await _metric(probe.sink.url, "carnet_consumer_batch_events_count")
    assert 0 < transactions_first < 80  # the backlog was applied in batches, not one event per transaction

    # The same sink (same service, same inbox) reads the topic again from the beginning, as after a
    # crash before its offsets were committed: a new consumer group starts at the earliest offset.
    probe.sink.stop()
    probe.sink.env["CARNET_PROBE_CONSUMER_GROUP"] = f"probe-again-{uuid.uuid4().hex[:6]}"
    probe.sink.start()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 120
    # its own events only: every service also reads the shared enrolment.campaigns topic (campaign purges),
    # where earlier tests left events that a group starting at the earliest offset applies once
    school_events = {"event_type": "SchoolRegistered"}
    while await _metric(probe.sink.url, "carnet_events_consumed_total", outcome="duplicate", **school_events) < 80:
        assert loop.time() < deadline, "the redelivered events were not all seen within 120 s"
        await asyncio.sleep(0.2)

    applied = await probe.applied()
    assert set(applied) == {f"s{i}" for i in range(80)}
    assert [school for school, times in applied.items() if times != 1] == []
    assert await _metric(probe.sink.url, "carnet_events_consumed_total", outcome="applied", **school_events) == 0
    assert await _metric(probe.sink.url, "carnet_consumer_batch_events_count") < 80


async def test_an_event_type_registered_alone_is_applied_each_event_in_its_own_transaction(stack, probe):
    await _backlog(probe, (0, 20, "École"))
    probe.sink.env["CARNET_PROBE_ALONE"] = "true"
    probe.sink.start()

    applied = await probe.wait_applied(20, timeout=120)
    assert [school for school, times in applied.items() if times != 1] == []
    transactions = await _metric(probe.sink.url, "carnet_consumer_batch_events_count")
    events = await _metric(probe.sink.url, "carnet_consumer_batch_events_sum")
    assert transactions >= 20 and events == transactions  # one event a transaction, the backlog notwithstanding
