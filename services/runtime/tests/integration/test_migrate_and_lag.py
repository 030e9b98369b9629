"""The migration command the Kubernetes init container runs, and the consumer-lag gauge,
on the real PostgreSQL and Kafka of the test session."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from prometheus_client import REGISTRY

from carnet_runtime.lag import ConsumerLagMonitor

pytestmark = pytest.mark.integration

REDEMPTION_MIGRATIONS = Path(__file__).resolve().parents[3] / "redemption" / "migrations"


async def test_two_migration_commands_at_once_apply_each_file_of_the_service_exactly_once(stack):
    dsn = await stack.create_database("migrate")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARNET_")}
    env["CARNET_REDEMPTION_DATABASE_URL"] = dsn
    command = [sys.executable, "-m", "carnet_runtime.migrate", "redemption"]
    runs = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for _ in range(2)]
    outputs = [run.communicate(timeout=60)[0].decode() for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs

    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT scope, version FROM schema_migrations ORDER BY scope, version")
        outbox_exists = await conn.fetchval("SELECT to_regclass('outbox') IS NOT NULL")
    finally:
        await conn.close()
    expected = sorted(p.stem for p in REDEMPTION_MIGRATIONS.glob("*.sql"))
    assert [r["version"] for r in rows if r["scope"] == "redemption"] == expected
    assert outbox_exists  # the runtime's own tables come first


def test_the_migration_command_fails_loudly_for_an_unknown_service():
    result = subprocess.run([sys.executable, "-m", "carnet_runtime.migrate", "nosuchservice"],
                            capture_output=True, timeout=60)
    assert result.returncode != 0


def _lag(service: str, topic: str, partition: int) -> float | None:
    return REGISTRY.get_sample_value("carnet_consumer_lag", {"service": service, "topic": topic, "partition": str(partition)})


async def test_consumer_lag_counts_uncommitted_events_and_falls_to_zero_once_they_are_handled(stack):
    topic = f"lag.probe.{uuid.uuid4().hex[:8]}"
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap)
    await producer.start()
    try:
        for i in range(5):
            await producer.send_and_wait(topic, f"event {i}".encode(), partition=0)
    finally:
        await producer.stop()

    release = asyncio.Event()
    handled: list[bytes] = []
    broker = KafkaBroker(stack.kafka_bootstrap)

    @broker.subscriber(topic, group_id=f"lag-{topic}", ack_policy=AckPolicy.ACK, auto_offset_reset="earliest")
    async def held_back(body: bytes) -> None:
        await release.wait()
        handled.append(body)

    monitor = ConsumerLagMonitor("lagprobe", broker, interval_seconds=0.2)
    await broker.start()
    try:
        lags: dict = {}
        for _ in range(100):  # until the group has its partition
            lags = await monitor.measure_once()
            if lags:
                break
            await asyncio.sleep(0.2)
        assert lags[(topic, 0)] == 5
        assert sum(lags.values()) == 5  # the broker may have given the topic more, empty, partitions
        assert _lag("lagprobe", topic, 0) == 5

        release.set()
        for _ in range(100):
            if len(handled) == 5 and sum((await monitor.measure_once()).values()) == 0:
                break
            await asyncio.sleep(0.2)
        assert _lag("lagprobe", topic, 0) == 0
    finally:
        release.set()
        await broker.stop()
    assert await monitor.measure_once() == {}
    assert _lag("lagprobe", topic, 0) is None  # a partition no longer assigned is no longer reported
