"""The transactional outbox and its relay.

`Outbox.add` writes an event in the caller's transaction; the relay publishes pending rows
in id order (so in order per key) with the idempotent producer, and marks them sent only
after the broker confirmed. A crash between the two re-sends; consumers absorb duplicates.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

import asyncpg
from opentelemetry import context as otel_context
from opentelemetry import propagate
from prometheus_client import Counter, Gauge

from carnet_contracts.envelope import Envelope, Event

from .retry import retry

log = logging.getLogger(__name__)

OUTBOX_PENDING = Gauge("carnet_outbox_pending_events", "Events written to the outbox and not yet confirmed by Kafka", ["service"])
OUTBOX_OLDEST_AGE = Gauge("carnet_outbox_oldest_pending_age_seconds", "Age of the oldest unsent outbox event", ["service"])
OUTBOX_PUBLISHED = Counter("carnet_outbox_published_total", "Outbox events confirmed by Kafka", ["service"])
OUTBOX_FAILURES = Counter("carnet_outbox_publish_failures_total", "Outbox publish attempts that failed", ["service"])

# The relay LISTENs here; a writer NOTIFYs in its transaction so that the relay publishes at commit.
NOTIFY_CHANNEL = "carnet_outbox"
_RELAY_LOCK_KEY = 0x6F7574626F78  # "outbox": one relay per database, whatever the replicas


@dataclass(frozen=True)
class OutboxRow:
    """The values of one outbox row, in the column order of INSERT_SQL's parameters."""

    event_id: uuid.UUID
    topic: str
    message_key: str
    event_type: str
    envelope: dict[str, Any]
    headers: dict[str, str]

    def values(self) -> tuple:
        return (self.event_id, self.topic, self.message_key, self.event_type, self.envelope, self.headers)


INSERT_SQL = """
INSERT INTO outbox (event_id, topic, message_key, event_type, envelope, headers)
VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb)
"""


class Outbox:
    def __init__(self, producer: str):
        self.producer = producer

    def row(self, event: Event, *, campaign_id: str | None = None) -> OutboxRow:
        """The row `add` writes, for a writer that folds the insert into a larger statement
        (the redemption hot path) and NOTIFYs NOTIFY_CHANNEL itself."""
        envelope = Envelope.wrap(event, producer=self.producer, campaign_id=campaign_id)
        trace_headers: dict[str, str] = {}
        propagate.inject(trace_headers)  # so the consumer's span joins the trace that caused the event
        return OutboxRow(envelope.event_id, event.topic.name, event.key(), event.event_type,
                         envelope.model_dump(mode="json"), trace_headers)

    async def add(self, conn: asyncpg.Connection, event: Event, *, campaign_id: str | None = None) -> Envelope:
        """Record `event` in the caller's transaction; the relay publishes it after commit."""
        row = self.row(event, campaign_id=campaign_id)
        await conn.execute(INSERT_SQL, *row.values())
        await conn.execute("SELECT pg_notify($1, '')", NOTIFY_CHANNEL)
        return Envelope.model_validate(row.envelope)


class OutboxRelay:
    def __init__(
        self,
        pool: asyncpg.Pool,
        broker: Any,
        *,
        service: str,
        batch_size: int = 500,
        idle_poll_seconds: float = 0.5,
        confirm_timeout_seconds: float = 30.0,
        max_backoff_seconds: float = 5.0,
        retention_days: int = 7,
    ):
        self.pool = pool
        self.broker = broker
        self.service = service
        self.batch_size = batch_size
        self.idle_poll_seconds = idle_poll_seconds
        self.confirm_timeout_seconds = confirm_timeout_seconds
        self.max_backoff_seconds = max_backoff_seconds
        self.retention_days = retention_days
        self._wakeup = asyncio.Event()

    async def run(self) -> None:
        """Relay until cancelled, riding out broker and database outages with backoff."""

        def failed(_: BaseException) -> None:
            OUTBOX_FAILURES.labels(self.service).inc()

        while True:
            await retry(self._relay_if_leader, max_wait=self.max_backoff_seconds, what="outbox relay", on_retry=failed)

    async def _relay_if_leader(self) -> None:
        conn = await self.pool.acquire()
        try:
            if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", _RELAY_LOCK_KEY):
                await asyncio.sleep(1.0)  # another replica relays this database
                return
            await conn.add_listener(NOTIFY_CHANNEL, self._on_notify)
            try:
                await self._relay_while_leader(conn)
            finally:
                with suppress(Exception):
                    await conn.remove_listener(NOTIFY_CHANNEL, self._on_notify)
                    await conn.execute("SELECT pg_advisory_unlock($1)", _RELAY_LOCK_KEY)
        finally:
            with suppress(Exception):
                await self.pool.release(conn)

    def _on_notify(self, *_: Any) -> None:
        self._wakeup.set()

    async def _relay_while_leader(self, leader_conn: asyncpg.Connection) -> None:
        housekeeping_due = 0.0
        loop = asyncio.get_running_loop()
        while True:
            if leader_conn.is_closed():
                raise ConnectionError("relay lost its database connection")
            self._wakeup.clear()
            published = await self.relay_once()
            if loop.time() >= housekeeping_due:
                await self._housekeeping()
                housekeeping_due = loop.time() + 5.0
            if published < self.batch_size:
                with suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), timeout=self.idle_poll_seconds)

    async def relay_once(self) -> int:
        """Publish one batch of pending events; return how many the broker confirmed."""
        rows = await self.pool.fetch(
            """
            SELECT id, topic, message_key, envelope, headers
            FROM outbox WHERE state = 'pending' ORDER BY id LIMIT $1
            """,
            self.batch_size,
        )
        if not rows:
            return 0
        futures = []
        try:
            for row in rows:
                futures.append(await self._publish(row))
            results = await asyncio.wait_for(
                asyncio.gather(*futures, return_exceptions=True), timeout=self.confirm_timeout_seconds
            )
        except BaseException:
            for future in futures:
                future.cancel()
            raise
        confirmed: list[int] = []
        failure: BaseException | None = None
        for row, result in zip(rows, results, strict=True):
            if isinstance(result, BaseException):
                failure = result
                failed_row = row
                break
            confirmed.append(row["id"])
        if confirmed:
            await self.pool.execute(
                "UPDATE outbox SET state = 'sent', sent_at = now(), attempts = attempts + 1 WHERE id = ANY($1::bigint[])",
                confirmed,
            )
            OUTBOX_PUBLISHED.labels(self.service).inc(len(confirmed))
        if failure is not None:
            await self.pool.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = $2 WHERE id = $1",
                failed_row["id"],
                f"{type(failure).__name__}: {failure}"[:500],
            )
            # Stop at the first failure so that a later event of the same key is never published first.
            raise failure
        return len(confirmed)

    async def _publish(self, row: asyncpg.Record) -> asyncio.Future:
        token = otel_context.attach(propagate.extract(row["headers"] or {}))
        try:
            envelope = row["envelope"]
            body = json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode()
            return await self.broker.publish(
                body,
                topic=row["topic"],
                key=row["message_key"].encode(),
                headers={"event-type": envelope["event_type"], "event-id": envelope["event_id"]},
                no_confirm=True,
            )
        finally:
            otel_context.detach(token)

    async def _housekeeping(self) -> None:
        row = await self.pool.fetchrow(
            """
            SELECT count(*) AS pending, coalesce(extract(epoch FROM now() - min(created_at)), 0) AS oldest
            FROM outbox WHERE state = 'pending'
            """
        )
        OUTBOX_PENDING.labels(self.service).set(row["pending"])
        OUTBOX_OLDEST_AGE.labels(self.service).set(float(row["oldest"]))
        await self.pool.execute(
            "DELETE FROM outbox WHERE state = 'sent' AND sent_at < now() - make_interval(days => $1)",
            self.retention_days,
        )
