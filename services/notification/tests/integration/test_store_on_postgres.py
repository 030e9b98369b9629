"""The store's claims and retention on the session's real PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from carnet_runtime import db
from notification.app import MIGRATIONS
from notification.domain import (
    Accepted,
    Campaign,
    NewMessage,
    Refused,
    RenderedMessage,
    RetryPolicy,
    SealedSecret,
    Template,
    Unreachable,
    forget_at,
)
from notification.store import AddressBook, CampaignRepository, MessageRepository, RetentionRepository

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
    message = NewMessage(
        event_id=uuid.uuid4(), template=Template.CONVENTION_SIGNED, recipient=recipient, rendered=RENDERED,
        forget_at=until, campaign_id=campaign_id, not_before=NOW - timedelta(seconds=1),
    )
    assert await MessageRepository(conn).add(message)
    return message.message_id


async def test_concurrent_workers_never_claim_the_same_message(pool):
    async with pool.acquire() as conn:
        for i in range(20):
            await _queue(conn, f"club-{i}@example.org", NOW + timedelta(days=1))

    barrier = asyncio.Barrier(2)

    async def worker() -> set[uuid.UUID]:
        async with pool.acquire() as conn, conn.transaction():
            await barrier.wait()  # both transactions are open before either claims
            messages = await MessageRepository(conn).claim_due(NOW, 15, timedelta(minutes=5))
            await asyncio.sleep(0.2)  # hold the row locks while the other claims
            return {m.message_id for m in messages}

    first, second = await asyncio.gather(worker(), worker())
    assert not first & second
    assert len(first | second) == 20


async def test_a_message_abandoned_while_sending_is_taken_again_after_its_lease(pool):
    async with pool.acquire() as conn:
        messages = MessageRepository(conn)
        message_id = await _queue(conn, "club@example.org", NOW + timedelta(days=1))
        (claimed,) = await messages.claim_due(NOW, 10, timedelta(seconds=30))
        assert await messages.claim_due(NOW + timedelta(seconds=10), 10, timedelta(seconds=30)) == []
        (again,) = await messages.claim_due(NOW + timedelta(seconds=31), 10, timedelta(seconds=30))
        assert again.message_id == message_id and again.delivery.attempts == 2
        # the first worker's late outcome does not overwrite the second's attempt
        late = claimed.delivery.conclude(Accepted(), NOW, RetryPolicy())
        assert not await messages.conclude(message_id, late, NOW, forget_secret=True)


async def test_personal_data_is_erased_after_the_campaign_plus_retention_and_the_log_stays(pool):
    async with pool.acquire() as conn:
        await CampaignRepository(conn).save(Campaign("2013-2014", "2013-2014", date(2014, 3, 31), date(2014, 4, 30)))
        end = (await CampaignRepository(conn).get("2013-2014")).ends
        old = await _queue(conn, "ancien@example.fr", forget_at(end, NOW, 60, 400), campaign_id="2013-2014")
        current = await _queue(conn, "actuel@example.fr", NOW + timedelta(days=100), campaign_id="2026-2027")
        await AddressBook(conn).remember_family("app-old", "2013-2014", "ancien@example.fr",
                                                forget_at(end, NOW, 60, 400))

        assert await RetentionRepository(conn).forget_due(NOW) == 1

        rows = {r["message_id"]: r for r in await conn.fetch("SELECT * FROM messages")}
        assert rows[old]["recipient"] is None and rows[old]["body_text"] is None and rows[old]["subject"] is None
        assert rows[old]["template"] == "convention_signed" and rows[old]["forgotten_at"] == NOW
        assert rows[current]["recipient"] == "actuel@example.fr"
        assert await conn.fetchval("SELECT count(*) FROM families") == 0


async def test_a_sealed_secret_is_kept_across_a_retry_and_dropped_with_the_final_outcome(pool):
    async with pool.acquire() as conn:
        messages = MessageRepository(conn)
        message = NewMessage(
            event_id=uuid.uuid4(), template=Template.CONVENTION_OTP, recipient="club@example.org",
            rendered=RenderedMessage(subject="Code", text="[code retiré]", html="<p>[code retiré]</p>"),
            forget_at=NOW + timedelta(days=1), secret=SealedSecret.code("gAAAA-sealed"),
            not_before=NOW - timedelta(seconds=1),
        )
        await messages.add(message)
        (first,) = await messages.claim_due(NOW, 10, timedelta(seconds=30))
        assert first.secret == SealedSecret.code("gAAAA-sealed")
        retry = first.delivery.conclude(Unreachable("down"), NOW, RetryPolicy())
        assert await messages.conclude(message.message_id, retry, NOW, forget_secret=retry.is_final)

        later = NOW + timedelta(hours=1)
        (second,) = await messages.claim_due(later, 10, timedelta(seconds=30))
        assert second.secret == first.secret
        failed = second.delivery.conclude(Refused(550, "5.1.1 unknown"), later, RetryPolicy())
        assert await messages.conclude(message.message_id, failed, later, forget_secret=failed.is_final)

        (logged,) = await messages.list("club@example.org", 10, None)
        assert logged.secret is None and logged.text == "[code retiré]"
        assert [a.outcome for a in logged.log] == ["retry", "failed"]
        assert await conn.fetchval("SELECT sealed_secret FROM messages WHERE message_id = $1", message.message_id) is None
