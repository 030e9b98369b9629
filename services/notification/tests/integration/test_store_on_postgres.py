"""The store's claims and retention on the session's real PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from carnet_runtime import db
from notification import store
from notification.app import MIGRATIONS
from notification.domain import Accepted, RetryPolicy, Template, forget_at
from notification.rendering import RenderedMessage

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)
RENDERED = RenderedMessage(subject="Objet", text="Texte", html="<p>Texte</p>")


@pytest.fixture
async def pool(database_url):
    await db.migrate(database_url, MIGRATIONS, service="notification")
    pool = await db.create_pool(database_url, min_size=2, max_size=4)
    yield pool
    await pool.close()


async def _queue(conn, recipient: str, until: datetime, campaign_id: str | None = None) -> uuid.UUID:
    event_id = uuid.uuid4()
    assert await store.enqueue(
        conn, event_id=event_id, template=Template.CONVENTION_SIGNED, recipient=recipient, rendered=RENDERED,
        forget_at=until, campaign_id=campaign_id, not_before=NOW - timedelta(seconds=1),
    )
    return store.message_id_for(event_id, Template.CONVENTION_SIGNED)


async def test_concurrent_workers_never_claim_the_same_message(pool):
    async with pool.acquire() as conn:
        for i in range(20):
            await _queue(conn, f"club-{i}@example.org", NOW + timedelta(days=1))

    barrier = asyncio.Barrier(2)

    async def worker() -> set[uuid.UUID]:
        async with pool.acquire() as conn, conn.transaction():
            await barrier.wait()  # both transactions are open before either claims
            rows = await store.claim_due(conn, NOW, 15, timedelta(minutes=5))
            await asyncio.sleep(0.2)  # hold the row locks while the other claims
            return {r["message_id"] for r in rows}

    first, second = await asyncio.gather(worker(), worker())
    assert not first & second
    assert len(first | second) == 20


async def test_a_message_abandoned_while_sending_is_taken_again_after_its_lease(pool):
    async with pool.acquire() as conn:
        message_id = await _queue(conn, "club@example.org", NOW + timedelta(days=1))
        (claimed,) = await store.claim_due(conn, NOW, 10, timedelta(seconds=30))
        assert await store.claim_due(conn, NOW + timedelta(seconds=10), 10, timedelta(seconds=30)) == []
        (again,) = await store.claim_due(conn, NOW + timedelta(seconds=31), 10, timedelta(seconds=30))
        assert again["message_id"] == message_id and again["attempts"] == 2
        # the first worker's late outcome does not overwrite the second's attempt
        late = store.delivery_of(claimed).conclude(Accepted(), NOW, RetryPolicy())
        assert not await store.conclude(conn, message_id, late, NOW)


async def test_personal_data_is_erased_after_the_campaign_plus_retention_and_the_log_stays(pool):
    async with pool.acquire() as conn:
        await store.save_campaign(conn, "2013-2014", "2013-2014", date(2014, 3, 31), date(2014, 4, 30))
        end = await store.campaign_end(conn, "2013-2014")
        old = await _queue(conn, "ancien@example.fr", forget_at(end, NOW, 60, 400), campaign_id="2013-2014")
        current = await _queue(conn, "actuel@example.fr", NOW + timedelta(days=100), campaign_id="2026-2027")
        await store.remember_family(conn, "app-old", "2013-2014", "ancien@example.fr", forget_at(end, NOW, 60, 400))

        assert await store.forget_due(conn, NOW) == 1

        rows = {r["message_id"]: r for r in await conn.fetch("SELECT * FROM messages")}
        assert rows[old]["recipient"] is None and rows[old]["body_text"] is None and rows[old]["subject"] is None
        assert rows[old]["template"] == "convention_signed" and rows[old]["forgotten_at"] == NOW
        assert rows[current]["recipient"] == "actuel@example.fr"
        assert await conn.fetchval("SELECT count(*) FROM families") == 0
