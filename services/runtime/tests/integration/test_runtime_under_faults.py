"""The runtime's promises, on the real broker and database, under crashes."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import time
import uuid
from collections import Counter
from pathlib import Path

import asyncpg
import httpx
import pytest

from carnet_contracts.events import SchoolRegistered
from carnet_local.postgres import PostgresCluster
from carnet_local.processes import free_port
from carnet_runtime.outbox import _RELAY_LOCK_KEY

pytestmark = pytest.mark.integration


async def _restart_broker(stack) -> None:
    await asyncio.to_thread(stack.kafka.start, timeout=90)


async def _kafka_back(stack) -> None:
    """Restart the module's broker if a test left it dead, so that the next test of the module has it."""
    if stack.kafka is not None and stack.kafka.process is None:
        await _restart_broker(stack)


async def test_a_thousand_outbox_events_are_applied_exactly_once_while_the_broker_is_killed_and_restarted(
        stack_with_own_broker, probe_on_own_broker):
    stack, probe = stack_with_own_broker, probe_on_own_broker
    emitting = asyncio.create_task(probe.emit(0, 1000, per_transaction=5))
    try:
        while len(await probe.applied()) < 50:
            await asyncio.sleep(0.1)
        # The broker dies at a moment the source's outbox holds rows it has not had confirmed: the
        # source is frozen (SIGSTOP) while its outbox is read, and the broker killed while it still is.
        deadline = time.monotonic() + 60
        while True:
            probe.source.pause()
            await asyncio.sleep(0.05)  # a statement on the wire when it froze lands
            _, pending_at_kill = await probe.outbox()
            if pending_at_kill or time.monotonic() > deadline:
                break
            probe.source.resume()
            await asyncio.sleep(0.01)
        try:
            assert pending_at_kill > 0, "the source's outbox never held a row its relay had not had confirmed"
            stack.kafka.kill()
        finally:
            probe.source.resume()
        applied_at_kill = len(await probe.applied())
        # Written while the broker is dead: the relay cannot have them confirmed, they wait in the outbox.
        await probe.emit(1000, 200, per_transaction=5)
        await emitting
        written, pending_while_down = await probe.outbox()
        assert len(written) == 1200
        assert pending_while_down >= pending_at_kill + 200
        assert applied_at_kill < len(written), "the sink had events still to apply when the broker died"
        await _restart_broker(stack)
    finally:
        emitting.cancel()
        await asyncio.gather(emitting, return_exceptions=True)
        await _kafka_back(stack)

    applied = await probe.wait_applied(1200, timeout=180)
    assert set(applied) == {f"s{i}" for i in range(1200)}
    assert [school for school, times in applied.items() if times != 1] == []
    _, pending = await probe.outbox()
    assert pending == 0


def _event_ids(records) -> Counter:
    return Counter(dict(r.headers)["event-id"].decode() for r in records)


async def test_a_relay_killed_in_the_middle_of_a_batch_loses_nothing_and_duplicates_are_absorbed(stack, unstarted_probe):
    """The relay is killed after Kafka confirmed a batch and before the rows are marked sent: at
    restart it publishes that batch again (the topic holds each of its events twice) and the
    sink's inbox applies each event once."""
    probe = unstarted_probe
    holder = await asyncpg.connect(probe.dsn(probe.source))
    try:
        # While the test holds the relay's leadership lock, no relay publishes: the batch waits.
        await holder.execute("SELECT pg_advisory_lock($1)", _RELAY_LOCK_KEY)
        await asyncio.to_thread(probe.start)
        await probe.emit(0, 300, per_transaction=20)
        written, pending = await probe.outbox()
        assert (len(written), pending) == (300, 300)
        # Lock the batch's rows, then let the relay lead: it publishes them and waits to mark them sent.
        holding = holder.transaction()
        await holding.start()
        await holder.execute("SELECT id FROM outbox FOR UPDATE")
        await holder.execute("SELECT pg_advisory_unlock($1)", _RELAY_LOCK_KEY)
        batch = {str(r["event_id"]) for r in await holder.fetch("SELECT event_id FROM outbox")}
        published = await stack.events(probe.topic, raw=True, timeout=60,
                                       until=lambda found: batch <= set(_event_ids(found)))
        assert batch <= set(_event_ids(published)), "the relay did not publish the held batch"
        emitting = asyncio.create_task(probe.emit(300, 300, per_transaction=20))  # more work in flight
        while len((await probe.outbox())[0]) <= 300:
            await asyncio.sleep(0.05)
        probe.source.kill()  # SIGKILL: the batch is on the topic, its rows still pending
        await asyncio.gather(emitting, return_exceptions=True)
        # A killed client's statement may still be queued on our locks; a crash leaves nothing behind.
        await holder.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()")
        await holding.rollback()
    finally:
        await holder.close()
    written, pending_at_crash = await probe.outbox()
    assert pending_at_crash > len(batch), "the crash met the published batch and newer events, all unmarked"
    await asyncio.to_thread(probe.source.start)

    applied = await probe.wait_applied(len(written), timeout=180)
    assert set(applied) == set(written)
    assert [school for school, times in applied.items() if times != 1] == []
    assert (await probe.outbox())[1] == 0
    on_topic = _event_ids(await stack.read_to_end(probe.topic, raw=True))
    assert {event_id: on_topic[event_id] for event_id in batch} == {event_id: 2 for event_id in batch}, (
        "each event of the batch was published before the crash and again after it")
    assert sum(on_topic.values()) - len(on_topic) == len(batch)


async def test_a_poison_message_goes_to_the_dead_letter_topic_with_its_reason_and_the_partition_goes_on(stack, probe):
    broken = SchoolRegistered(school_id="s-broken", name="x", postcode="92100", city="Boulogne")
    await stack.publish(broken, raw=b"\x00 this is not an event", topic=probe.topic)
    await probe.emit(500, 1, name="poison")  # a valid event whose handler fails
    await probe.emit(0, 10)

    applied = await probe.wait_applied(10, timeout=60)
    assert set(applied) == {f"s{i}" for i in range(10)}
    dead = await stack.events(f"{probe.topic}.dlt", raw=True, until=lambda found: len(found) >= 2, timeout=30)
    reasons = [dict(m.headers)["x-dead-letter-reason"].decode() for m in dead]
    assert len(dead) == 2
    assert any("invalid event" in r or "ValidationError" in r for r in reasons), reasons
    assert any("this school cannot be applied" in r for r in reasons), reasons
    assert all(dict(m.headers)["x-original-topic"].decode() == probe.topic for m in dead)


MIGRATING = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from carnet_runtime.db import migrate
    asyncio.run(migrate(sys.argv[1], Path(sys.argv[2]), service="race"))
    """
)


async def test_two_processes_migrating_at_once_apply_each_migration_exactly_once(stack, tmp_path):
    dsn = await stack.create_database("race")
    migrations = tmp_path / "migrations"
    migrations.mkdir()
    # Not idempotent on purpose: applied twice, the CREATE TABLE fails and the count shows it.
    (migrations / "0001_ledger.sql").write_text(
        "CREATE TABLE ledger (n int); SELECT pg_sleep(0.5); INSERT INTO ledger VALUES (1);"
    )
    (migrations / "0002_more.sql").write_text("INSERT INTO ledger VALUES (2);")
    processes = [
        subprocess.Popen([sys.executable, "-c", MIGRATING, dsn, str(migrations)], stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    results = [(p.wait(timeout=60), p.stderr.read().decode()) for p in processes]
    assert [code for code, _ in results] == [0, 0], results

    conn = await asyncpg.connect(dsn)
    try:
        assert await conn.fetchval("SELECT count(*) FROM ledger") == 2
        versions = await conn.fetch("SELECT version FROM schema_migrations WHERE scope = 'race' ORDER BY version")
        assert [r["version"] for r in versions] == ["0001_ledger", "0002_more"]
    finally:
        await conn.close()


async def _readiness(url: str) -> tuple[int, dict]:
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.get(url + "/health/ready")
    return response.status_code, response.json()


async def _until_readiness(url: str, status: int, timeout: float = 60.0) -> dict:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        code, body = await _readiness(url)
        if code == status:
            return body
        if loop.time() > deadline:
            raise AssertionError(f"readiness stayed {code} {body}, expected {status}")
        await asyncio.sleep(0.5)


async def test_readiness_follows_the_database_and_the_broker_down_and_back(stack_with_own_broker):
    stack = stack_with_own_broker
    own_postgres = PostgresCluster(stack.home / f"pg-{uuid.uuid4().hex[:6]}" / "data", port=free_port(), fast_and_unsafe=True)
    await asyncio.to_thread(own_postgres.start)
    sink = None
    try:
        dsn = own_postgres.url.rsplit("/", 1)[0] + f"/probe_{uuid.uuid4().hex[:6]}"
        sink = stack.service("probe", module="probe_service", database_url=dsn, env={
            "PYTHONPATH": str(Path(__file__).parents[1] / "probe"),
            "CARNET_TOPIC_ENROLMENT_SCHOOLS": f"probe.schools.{uuid.uuid4().hex[:8]}",
        })
        await asyncio.to_thread(sink.start)
        assert (await _readiness(sink.url))[0] == 200

        await asyncio.to_thread(own_postgres.stop)
        body = await _until_readiness(sink.url, 503)
        assert body["checks"]["database"] == "down"
        await asyncio.to_thread(own_postgres.start)
        await _until_readiness(sink.url, 200)

        stack.kafka.kill()
        body = await _until_readiness(sink.url, 503)
        assert body["checks"]["broker"] == "down"
        await _restart_broker(stack)
        await _until_readiness(sink.url, 200, timeout=90)
    finally:
        await _kafka_back(stack)
        if sink is not None:
            await asyncio.to_thread(sink.stop)
        await asyncio.to_thread(own_postgres.stop)
