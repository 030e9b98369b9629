"""A campaign's purge reaches Kafka: records older than the purge leave the topics this service
writes, but never before every consumer group has committed past them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.structs import OffsetAndMetadata

from carnet_runtime.purge import truncate_topics
from carnet_runtime.settings import ServiceSettings

pytestmark = pytest.mark.integration


async def test_records_older_than_the_purge_go_once_every_group_has_read_them(stack):
    topic = f"purge-probe-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=stack.kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap)
    await producer.start()
    try:
        for i in range(10):
            await producer.send_and_wait(topic, f"season {i}".encode())
    finally:
        await producer.stop()
    tp = TopicPartition(topic, 0)
    group = f"reader-{uuid.uuid4().hex[:6]}"
    reader = AIOKafkaConsumer(bootstrap_servers=stack.kafka_bootstrap, group_id=group, enable_auto_commit=False)
    await reader.start()
    try:
        reader.assign([tp])
        await reader.commit({tp: OffsetAndMetadata(4, "")})  # this group has read 4 of the 10 records
        settings = ServiceSettings(CARNET_KAFKA_BOOTSTRAP_SERVERS=stack.kafka_bootstrap)

        removed = await truncate_topics(settings, [topic, "no-such-topic"], datetime.now(UTC))
        assert removed == {topic: 4}
        assert (await reader.beginning_offsets([tp]))[tp] == 4

        await reader.commit({tp: OffsetAndMetadata(10, "")})
        assert await truncate_topics(settings, [topic], datetime.now(UTC)) == {topic: 6}
        assert (await reader.beginning_offsets([tp]))[tp] == 10
    finally:
        await reader.stop()
