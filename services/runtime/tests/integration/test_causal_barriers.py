"""The two halves of a causal barrier across services, on the real PostgreSQL and Kafka of the session:
a writer waits until the events it committed are on Kafka (`Outbox.published`), a reader waits until its
consumer group has committed everything that was on a topic when it asked (`GroupBarrier`)."""

from __future__ import annotations

import asyncio
import uuid
from contextlib import suppress

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.structs import OffsetAndMetadata
from carnet_contracts.events import SchoolRegistered
from carnet_runtime import ServiceSettings
from carnet_runtime.barrier import GroupBarrier
from carnet_runtime.outbox import OutboxRelay
from faststream.kafka import KafkaBroker

pytestmark = pytest.mark.integration


async def test_published_says_true_only_once_the_relay_has_put_the_committed_events_on_kafka(stack, outbox_of_its_own):
    topic, pool, outbox = outbox_of_its_own
    broker = KafkaBroker(stack.kafka_bootstrap, enable_idempotence=True, acks="all")
    relaying = None
    try:
        async with pool.acquire() as conn, conn.transaction():
            envelopes = await outbox.add_all(conn, [
                (SchoolRegistered(school_id=f"s{i}", name="École", postcode="92100", city="Boulogne"), None)
                for i in range(3)])
        ids = [e.event_id for e in envelopes]
        assert await outbox.published([], within=0)  # nothing to wait for
        # no relay runs: the bound passes and the events are still only in the outbox
        assert not await outbox.published(ids, within=0.2)

        await broker.start()
        relay = OutboxRelay(pool, broker, service="published", on_sent=outbox.rows_sent)
        relaying = asyncio.create_task(relay.run())
        assert await outbox.published(ids, within=60)
        on_kafka = await stack.events(topic, until=lambda found: len(found) >= 3)
        assert {m["event_id"] for m in on_kafka} == {str(i) for i in ids}
    finally:
        if relaying is not None:
            relaying.cancel()
            with suppress(asyncio.CancelledError):
                await relaying
        await broker.stop()


async def _topic_with_two_partitions(bootstrap: str) -> str:
    topic = f"barrier.probe.{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)])
    finally:
        await admin.close()
    return topic


async def test_the_group_barrier_passes_once_the_group_committed_what_was_on_the_topic_and_not_before(
        stack, monkeypatch):
    monkeypatch.setenv("CARNET_KAFKA_BOOTSTRAP_SERVERS", stack.kafka_bootstrap)
    topic = await _topic_with_two_partitions(stack.kafka_bootstrap)
    group = f"barrier-{uuid.uuid4().hex[:8]}"
    barrier = GroupBarrier(ServiceSettings(), group)
    committer = AIOKafkaConsumer(bootstrap_servers=stack.kafka_bootstrap, group_id=group, enable_auto_commit=False)
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap)
    await producer.start()
    await committer.start()
    try:
        assert await barrier.caught_up(topic, within=30)  # nothing on the topic: nothing to wait for
        for i in range(3):  # partition 1 stays empty: it needs nothing
            await producer.send_and_wait(topic, f"event {i}".encode(), partition=0)
        p0 = TopicPartition(topic, 0)
        committer.assign([p0])

        assert not await barrier.caught_up(topic, within=0.3)  # the group committed nothing yet
        await committer.commit({p0: OffsetAndMetadata(2, "")})
        assert not await barrier.caught_up(topic, within=0.3)  # one event still not committed

        waiting = asyncio.create_task(barrier.caught_up(topic, within=60))
        await committer.commit({p0: OffsetAndMetadata(3, "")})
        assert await waiting
    finally:
        await committer.stop()
        await producer.stop()
        await barrier.close()
