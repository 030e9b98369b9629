"""Regression: a failure in the consumer's own dispatch (before READY, an injection error) was
acknowledged, and the message lost. Now it is redelivered."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from faststream.kafka import KafkaBroker

from carnet_contracts.events import SchoolRegistered
from carnet_runtime import db
from carnet_runtime.consumers import Consumers

pytestmark = pytest.mark.integration


async def test_a_message_whose_dispatch_fails_unexpectedly_is_redelivered_not_lost(stack, monkeypatch):
    topic = f"probe.schools.{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("CARNET_TOPIC_ENROLMENT_SCHOOLS", topic)
    dsn = await stack.create_database("dispatch")
    await db.migrate(dsn, stack.home / "no-service-migrations", service="dispatch")
    pool = await db.create_pool(dsn)
    applied: list[str] = []
    consumers = Consumers(f"dispatch-{uuid.uuid4().hex[:6]}")

    @consumers.on(SchoolRegistered)
    async def registered(conn, event, envelope):
        applied.append(event.school_id)

    real_handle = Consumers.handle
    failures = []

    async def handle_failing_once(self, *args):
        if not failures:
            failures.append("boom")
            raise RuntimeError("a bug in the dispatcher")
        await real_handle(self, *args)

    monkeypatch.setattr(Consumers, "handle", handle_failing_once)
    broker = KafkaBroker(stack.kafka_bootstrap)
    consumers.subscribe(broker, lambda: pool)
    await broker.start()
    try:
        await stack.publish(SchoolRegistered(school_id="s1", name="École", postcode="92100", city="Boulogne"),
                            topic=topic)
        for _ in range(200):
            if applied:
                break
            await asyncio.sleep(0.1)
    finally:
        await broker.stop()
        await pool.close()
    assert failures == ["boom"]
    assert applied == ["s1"]
