"""The manifests' Kafka side on a real broker that authorizes as Strimzi's does (secured_kafka): the local
stack's topic creation gives every topic the retention its KafkaTopic declares, and each KafkaUser's ACLs let
its service do its whole job (write, consume, dead-letter, purge) as itself, and nothing it must not."""

from __future__ import annotations

import asyncio
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import (
    CoordinatorLoadInProgressError,
    GroupCoordinatorNotAvailableError,
    TopicAuthorizationFailedError,
)
from aiokafka.structs import OffsetAndMetadata

from carnet_contracts.topics import AFFILIATION_NOTICES, REDEMPTION_REDEMPTIONS
from carnet_local.kafka import create_topics, topic_config_values
from carnet_local.processes import free_port
from carnet_runtime.purge import truncate_topics
from carnet_runtime.settings import ServiceSettings

from .conftest import SERVICES
from .secured_kafka import SecuredKafkaNode

pytestmark = pytest.mark.integration

NOTICES = AFFILIATION_NOTICES.default_name
# A group no service knows of (an operator's replay tool, say) that has read nothing of this topic yet.
UNKNOWN_GROUP, UNREAD_TOPIC = "ops-replay", REDEMPTION_REDEMPTIONS.default_name


def _of(objects, kind):
    return [o for o in objects if o["kind"] == kind]


@pytest.fixture(scope="module")
def broker(built):
    users = _of(built["prod"], "KafkaUser")
    node = SecuredKafkaNode(Path(tempfile.mkdtemp(prefix="carnet-acls-")) / "kafka", port=free_port(),
                            controller_port=free_port(), sasl_port=free_port(),
                            users={u["metadata"]["name"]: f"{u['metadata']['name']}-password" for u in users})
    node.start(timeout=180)
    try:
        asyncio.run(create_topics(node.bootstrap))  # the local stack's own topic creation
        assert node.apply_acls(users) > 0
        yield node
    finally:
        node.stop()


async def _admin(bootstrap: str) -> AIOKafkaAdminClient:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    return admin


def _settings(broker: SecuredKafkaNode, service: str) -> ServiceSettings:
    user = f"carnet-{service}"
    return ServiceSettings(CARNET_KAFKA_BOOTSTRAP_SERVERS=broker.sasl_bootstrap, CARNET_KAFKA_SASL_USERNAME=user,
                           CARNET_KAFKA_SASL_PASSWORD=broker.users[user])


async def test_the_local_stack_gives_every_topic_the_retention_its_kafka_topic_declares(broker, built):
    declared = {t["spec"]["topicName"]: {k: str(v) for k, v in t["spec"]["config"].items()
                                         if k in ("retention.ms", "cleanup.policy")}
                for t in _of(built["prod"], "KafkaTopic")}
    admin = await _admin(broker.bootstrap)
    try:
        assert await topic_config_values(admin, list(declared), ["retention.ms", "cleanup.policy"]) == declared
        # a stack made before: its topic got the broker's default; the next start gives it the declared one
        await admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, NOTICES, configs={"retention.ms": "3600000"})])
        assert (await topic_config_values(admin, [NOTICES], ["retention.ms"]))[NOTICES] == {"retention.ms": "3600000"}
        await create_topics(broker.bootstrap)
        assert (await topic_config_values(admin, [NOTICES], ["retention.ms", "cleanup.policy"]))[NOTICES] == declared[NOTICES]
    finally:
        await admin.close()


async def _produce(broker, service: str, topic: str, value: bytes) -> None:
    producer = AIOKafkaProducer(**broker.client(f"carnet-{service}"), enable_idempotence=True, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, key=b"k")
    finally:
        await producer.stop()


async def _first_record(broker, service: str, topic: str):
    consumer = AIOKafkaConsumer(topic, **broker.client(f"carnet-{service}"), group_id=service,
                                enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    try:
        return await asyncio.wait_for(consumer.getone(), timeout=120)
    finally:
        await consumer.stop()


async def _read_until(broker, service: str, topic: str, value: bytes) -> bytes:
    """Read `topic` from its start as `service` until the record holding `value` (other tests of this
    module write there too)."""
    consumer = AIOKafkaConsumer(topic, **broker.client(f"carnet-{service}"), group_id=service,
                                enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    try:
        async with asyncio.timeout(120):
            while (record := await consumer.getone()).value != value:
                pass
        return record.value
    finally:
        await consumer.stop()


async def test_wallet_and_redemption_are_refused_affiliation_notices_that_notification_reads(broker):
    await _produce(broker, "affiliation", NOTICES, b"contact address and sealed code")
    for service in ("wallet", "redemption"):
        with pytest.raises(TopicAuthorizationFailedError):
            await _first_record(broker, service, NOTICES)
    assert await _read_until(broker, "notification", NOTICES, b"contact address and sealed code")


async def _commit(client: dict, group: str, offsets: dict[TopicPartition, int]) -> None:
    consumer = AIOKafkaConsumer(**client, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(list(offsets))
        await consumer.commit({tp: OffsetAndMetadata(offset, "") for tp, offset in offsets.items()})
    finally:
        await consumer.stop()


async def _offsets(bootstrap: str, topics) -> tuple[dict, dict]:
    """(beginning, end) offsets of every partition of `topics`, as the operator sees them."""
    admin = await _admin(bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        partitions = [TopicPartition(d["topic"], p["partition"]) for d in await admin.describe_topics(list(topics))
                      for p in d["partitions"]]
        return await consumer.beginning_offsets(partitions), await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()
        await admin.close()


async def test_each_service_purges_what_it_writes_as_its_own_user_and_never_what_a_group_has_not_read(
        broker, services):
    written = {topic for facts in services.values() for topic in facts.written}
    # every service writes each topic it writes (own topics, dead letters of what it reads), as itself
    for service in SERVICES:
        for topic in sorted(services[service].written):
            await _produce(broker, service, topic, f"{service} wrote this".encode())
    # every service's group has read everything it consumes, committed as itself...
    begin, end = await _offsets(broker.bootstrap, written)
    for service in SERVICES:
        await _commit(broker.client(f"carnet-{service}"), service,
                      {tp: offset for tp, offset in end.items() if tp.topic in services[service].consumed})
    # ... but a group no service knows of has read nothing of one topic
    await _commit({"bootstrap_servers": broker.bootstrap}, UNKNOWN_GROUP,
                  {tp: offset for tp, offset in begin.items() if tp.topic == UNREAD_TOPIC})
    assert any(end[tp] > begin[tp] for tp in end if tp.topic == UNREAD_TOPIC)

    before = datetime.now(UTC) + timedelta(seconds=1)  # every record above is older than the purge
    removed: dict[str, int] = {}
    for service in SERVICES:
        for topic, count in (await truncate_topics(_settings(broker, service), sorted(services[service].written),
                                                   before)).items():
            removed[topic] = removed.get(topic, 0) + count

    after, _ = await _offsets(broker.bootstrap, written)
    for tp in end:
        expected = begin[tp] if tp.topic == UNREAD_TOPIC else end[tp]
        assert after[tp] == expected, f"{tp}: starts at {after[tp]}, expected {expected}"
    assert UNREAD_TOPIC not in removed
    assert removed == {t: sum(end[tp] - begin[tp] for tp in end if tp.topic == t)
                       for t in written - {UNREAD_TOPIC} if any(end[tp] > begin[tp] for tp in end if tp.topic == t)}


async def test_a_service_cannot_purge_a_topic_it_does_not_write(broker):
    await _produce(broker, "affiliation", NOTICES, b"still there")
    begin, end = await _offsets(broker.bootstrap, [NOTICES])
    assert await truncate_topics(_settings(broker, "wallet"), [NOTICES], datetime.now(UTC) + timedelta(seconds=1)) == {}
    assert (await _offsets(broker.bootstrap, [NOTICES]))[0] == begin


async def _group_offsets(admin: AIOKafkaAdminClient, group: str, tps: list[TopicPartition]) -> dict:
    """The group's committed offsets, as KEDA asks for them. On a broker just started, the group
    coordinator is not there until the offsets topic is: KEDA asks again, and so does this."""
    deadline = asyncio.get_running_loop().time() + 60
    while True:
        try:
            return await admin.list_consumer_group_offsets(group, partitions=tps)
        except (GroupCoordinatorNotAvailableError, CoordinatorLoadInProgressError):
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.5)


async def test_keda_reads_the_lag_of_every_group_it_watches_and_not_one_message(broker, built):
    keda = broker.client("carnet-keda")
    admin = AIOKafkaAdminClient(**keda)
    consumer = AIOKafkaConsumer(**keda, enable_auto_commit=False)
    await admin.start()
    await consumer.start()
    try:
        for scaled in _of(built["prod"], "ScaledObject"):
            for trigger in (t for t in scaled["spec"]["triggers"] if t["type"] == "kafka"):
                group, topic = trigger["metadata"]["consumerGroup"], trigger["metadata"]["topic"]
                (described,) = await admin.describe_topics([topic])
                assert not described["error_code"], (group, topic)
                tps = [TopicPartition(topic, p["partition"]) for p in described["partitions"]]
                await _group_offsets(admin, group, tps)
                assert set(await consumer.end_offsets(tps)) == set(tps)
        consumer.assign([TopicPartition(NOTICES, 0)])
        consumer.seek(TopicPartition(NOTICES, 0), 0)
        with pytest.raises(TopicAuthorizationFailedError):
            await asyncio.wait_for(consumer.getone(), timeout=120)
    finally:
        await consumer.stop()
        await admin.close()

