from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import asyncpg
import httpx
import pytest

PROBE_DIR = Path(__file__).parent / "probe"


class Probe:
    """A source and a sink of SchoolRegistered events on a private topic, each with its own database."""

    def __init__(self, stack, topic: str):
        env = {"PYTHONPATH": str(PROBE_DIR), "CARNET_TOPIC_ENROLMENT_SCHOOLS": topic}
        self.topic = topic
        self.source = stack.service("probe", module="probe_service", env={**env, "CARNET_PROBE_ROLE": "source"})
        self.sink = stack.service("probe", module="probe_service", env={**env, "CARNET_PROBE_ROLE": "sink"})

    def start(self) -> None:
        self.source.start()
        self.sink.start()

    def stop(self) -> None:
        self.sink.stop()
        self.source.stop()

    @staticmethod
    def dsn(process) -> str:
        return process.env["CARNET_PROBE_DATABASE_URL"]

    async def emit(self, start: int, count: int, *, per_transaction: int = 1, name: str = "École") -> None:
        async with httpx.AsyncClient(timeout=120) as client:
            response = await client.post(self.source.url + "/emit", json={
                "start": start, "count": count, "per_transaction": per_transaction, "name": name})
            response.raise_for_status()

    async def applied(self) -> dict[str, int]:
        conn = await asyncpg.connect(self.dsn(self.sink))
        try:
            rows = await conn.fetch("SELECT school_id, count(*) AS n FROM applied GROUP BY school_id")
        finally:
            await conn.close()
        return {r["school_id"]: r["n"] for r in rows}

    async def outbox(self) -> tuple[list[str], int]:
        """The school ids the source wrote through its outbox, and how many are still unsent."""
        conn = await asyncpg.connect(self.dsn(self.source))
        try:
            keys = [r["message_key"] for r in await conn.fetch("SELECT message_key FROM outbox ORDER BY id")]
            pending = await conn.fetchval("SELECT count(*) FROM outbox WHERE state = 'pending'")
        finally:
            await conn.close()
        return keys, pending

    async def wait_applied(self, expected: int, *, timeout: float = 120.0) -> dict[str, int]:
        deadline = time.monotonic() + timeout
        applied: dict[str, int] = {}
        while time.monotonic() < deadline:
            applied = await self.applied()
            if len(applied) >= expected:
                return applied
            await asyncio.sleep(0.5)
        raise AssertionError(f"only {len(applied)} of {expected} events applied within {timeout} s")


@pytest.fixture
def unstarted_probe(stack):
    """A source and a sink on a topic of their own, with their databases, not started yet."""
    pair = Probe(stack, f"probe.schools.{uuid.uuid4().hex[:8]}")
    yield pair
    pair.stop()


@pytest.fixture
def probe(unstarted_probe):
    unstarted_probe.start()
    return unstarted_probe


@pytest.fixture
def probe_on_own_broker(stack_with_own_broker):
    """A probe on the module's own broker (the tests that kill the broker), started."""
    pair = Probe(stack_with_own_broker, f"probe.schools.{uuid.uuid4().hex[:8]}")
    pair.start()
    yield pair
    pair.stop()


@pytest.fixture
async def outbox_of_its_own(stack, monkeypatch):
    """An outbox on a database of this test's own (the runtime's tables only), bound to a pool on it, whose
    SchoolRegistered events go to a topic of this test's own: (topic, pool, outbox)."""
    from carnet_runtime import db
    from carnet_runtime.outbox import Outbox

    topic = f"probe.schools.{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("CARNET_TOPIC_ENROLMENT_SCHOOLS", topic)
    name = f"outbox_{uuid.uuid4().hex[:8]}"
    dsn = await stack.create_database(name)
    await db.migrate(dsn, stack.home / "no-service-migrations", service=name)
    pool = await db.create_pool(dsn)
    outbox = Outbox(name)
    outbox.bind(pool)
    try:
        yield topic, pool, outbox
    finally:
        await pool.close()
