"""The transactional outbox and its relay.

`Outbox.add` writes an event in the caller's transaction; the relay publishes pending rows
in id order (so in order per key) with the idempotent producer, and marks them sent only
after the broker confirmed. A crash between the two re-sends; consumers absorb duplicates.

`Outbox.published` lets a request wait (bounded) until the events it just committed are on Kafka:
it reads the rows' state, woken at once by the relay when the relay runs in this process, and
polling otherwise (the database's relay may be another replica's).
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

import asyncpg
from faststream.kafka.response import KafkaPublishCommand
from faststream.response.publish_type import PublishType
from opentelemetry import propagate, trace
from prometheus_client import Counter, Gauge

from carnet_contracts.envelope import Envelope, Event

from .retry import retry

log = logging.getLogger(__name__)
_tracer = trace.get_tracer(__name__)

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

# `add_all`: the rows, in the order given (so in id order, the relay's), and the relay's wake-up, in one
# statement whatever their number. Envelopes and headers come as JSON text.
_ADD_ALL_SQL = f"""
WITH written AS (
    INSERT INTO outbox (event_id, topic, message_key, event_type, envelope, headers)
    SELECT e.event_id, e.topic, e.message_key, e.event_type, e.envelope::jsonb, e.headers::jsonb
    FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) WITH ORDINALITY
         AS e(event_id, topic, message_key, event_type, envelope, headers, n)
    ORDER BY e.n
    RETURNING id
)
SELECT pg_notify('{NOTIFY_CHANNEL}', '') WHERE EXISTS (SELECT FROM written)
"""


class Outbox:
    def __init__(self, producer: str, *, poll_seconds: float = 0.05):
        self.producer = producer
        self.poll_seconds = poll_seconds
        self._pool: asyncpg.Pool | None = None
        self._sent = asyncio.Event()  # set, then replaced, each time this process's relay marks rows sent

    def bind(self, pool: asyncpg.Pool | None) -> None:
        """The pool `published` reads the rows' state on (the service's, while it runs)."""
        self._pool = pool

    def rows_sent(self) -> None:
        """Called by this process's relay after it marked rows sent: wakes the waiters of `published`."""
        self._sent.set()
        self._sent = asyncio.Event()

    async def published(self, event_ids: Sequence[uuid.UUID], *, within: float) -> bool:
        """Wait until every event of `event_ids` (committed to the outbox) is confirmed by Kafka, at most
        `within` seconds: True once none is pending, False when the time ran out (they stay in the
        outbox, and the relay will publish them). A row housekeeping removed was sent long ago."""
        ids = list(event_ids)
        if not ids:
            return True
        if self._pool is None:
            raise RuntimeError("the outbox is not bound to a pool: the service has not started")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while True:
            woken = self._sent  # taken before the read: a relay marking rows sent after it wakes us
            pending = await self._pool.fetchval(
                "SELECT EXISTS (SELECT FROM outbox WHERE event_id = ANY($1::uuid[]) AND state = 'pending')", ids)
            if not pending:
                return True
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            with suppress(TimeoutError):
                await asyncio.wait_for(woken.wait(), timeout=min(remaining, self.poll_seconds))

    def row(self, event: Event, *, campaign_id: str | None = None) -> OutboxRow:
        """The row `add` writes, for a writer that folds the insert into a larger statement
        (the redemption hot path) and NOTIFYs NOTIFY_CHANNEL itself."""
        return self._row(self._envelope(event, campaign_id), event)

    async def add(self, conn: asyncpg.Connection, event: Event, *, campaign_id: str | None = None) -> Envelope:
        """Record `event` in the caller's transaction; the relay publishes it after commit."""
        return (await self.add_all(conn, [(event, campaign_id)]))[0]

    async def add_all(self, conn: asyncpg.Connection, events: Sequence[tuple[Event, str | None]]) -> list[Envelope]:
        """Record (event, campaign_id) pairs in the caller's transaction, in their order, in one statement."""
        envelopes = [self._envelope(event, campaign_id) for event, campaign_id in events]
        if not envelopes:
            return []
        trace_headers: dict[str, str] = {}
        propagate.inject(trace_headers)  # so the consumer's span joins the trace that caused the event
        headers = json.dumps(trace_headers)
        await conn.execute(
            _ADD_ALL_SQL,
            [e.event_id for e in envelopes],
            [event.topic.name for event, _ in events],
            [event.key() for event, _ in events],
            [e.event_type for e in envelopes],
            [e.model_dump_json() for e in envelopes],
            [headers] * len(envelopes),
        )
        return envelopes

    def _envelope(self, event: Event, campaign_id: str | None) -> Envelope:
        if event.retired:
            raise ValueError(f"{event.event_type} v{event.schema_version} is retired: publish its current version")
        return Envelope.wrap(event, producer=self.producer, campaign_id=campaign_id)

    @staticmethod
    def _row(envelope: Envelope, event: Event) -> OutboxRow:
        trace_headers: dict[str, str] = {}
        propagate.inject(trace_headers)  # so the consumer's span joins the trace that caused the event
        return OutboxRow(envelope.event_id, event.topic.name, event.key(), event.event_type,
                         envelope.model_dump(mode="json"), trace_headers)


class OutboxRelay:
    def __init__(
        self,
        pool: asyncpg.Pool,
        broker: Any,
        *,
        service: str,
        batch_size: int = 500,
        idle_poll_seconds: float = 0.5,
        gather_seconds: float = 0.0,
        confirm_timeout_seconds: float = 30.0,
        max_backoff_seconds: float = 5.0,
        retention_days: int = 7,
        on_sent: Callable[[], None] | None = None,
    ):
        self.pool = pool
        self.on_sent = on_sent
        self.broker = broker
        self.service = service
        self.batch_size = batch_size
        self.idle_poll_seconds = idle_poll_seconds
        self.gather_seconds = gather_seconds
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
            published = await self.relay_once(leader_conn)
            if loop.time() >= housekeeping_due:
                await self._housekeeping(leader_conn)
                housekeeping_due = loop.time() + 5.0
            if published < self.batch_size:
                with suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), timeout=self.idle_poll_seconds)
                    if self.gather_seconds:  # woken by a commit: let the ones right behind it join the batch
                        await asyncio.sleep(self.gather_seconds)

    async def relay_once(self, conn: asyncpg.Connection) -> int:
        """Publish one batch of pending events; return how many the broker confirmed.

        Two statements a batch on the relay's own connection (no pool round trip to reset one): the
        pending rows, their envelopes as the JSON text Kafka carries (not decoded, not encoded again),
        then the confirmed ones marked sent at once."""
        rows = await conn.fetch(
            """
            SELECT id, event_id, event_type, topic, message_key, envelope::text AS body, headers
            FROM outbox WHERE state = 'pending' ORDER BY id LIMIT $1
            """,
            self.batch_size,
        )
        if not rows:
            return 0
        futures = []
        try:
            for i, row in enumerate(rows, start=1):
                futures.append(await self._publish(row))
                if i % 50 == 0:
                    await asyncio.sleep(0)  # sending does not yield: let the requests and consumers in now and then
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
            await conn.execute(
                "UPDATE outbox SET state = 'sent', sent_at = now(), attempts = attempts + 1 WHERE id = ANY($1::bigint[])",
                confirmed,
            )
            OUTBOX_PUBLISHED.labels(self.service).inc(len(confirmed))
            if self.on_sent is not None:
                self.on_sent()
        if failure is not None:
            await conn.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = $2 WHERE id = $1",
                failed_row["id"],
                f"{type(failure).__name__}: {failure}"[:500],
            )
            # Stop at the first failure so that a later event of the same key is never published first.
            raise failure
        return len(confirmed)

    async def _publish(self, row: asyncpg.Record) -> asyncio.Future:
        """Send one row with the broker's idempotent producer, beneath FastStream's publish middlewares: a
        span and metrics per message were most of the relay's CPU (measured), and the outbox has metrics of
        its own. The row's trace context travels as the message's traceparent, through a producer span of
        the relay's when that trace is sampled, so the consumers' spans still descend from the request."""
        headers = {"event-type": row["event_type"], "event-id": str(row["event_id"])}
        carried = row["headers"] or {}
        parent = propagate.extract(carried)
        if not trace.get_current_span(parent).get_span_context().trace_flags.sampled:
            return await self._send(row, headers | carried)
        with _tracer.start_as_current_span(
            f"{row['topic']} publish", context=parent, kind=trace.SpanKind.PRODUCER,
            attributes={"messaging.system": "kafka", "messaging.destination.name": row["topic"],
                        "messaging.operation.type": "send", "messaging.message.id": str(row["event_id"])},
        ):
            propagate.inject(headers)
            return await self._send(row, headers)

    async def _send(self, row: asyncpg.Record, headers: dict[str, str]) -> asyncio.Future:
        return await self.broker.config.producer.publish(KafkaPublishCommand(
            row["body"].encode(), topic=row["topic"], key=row["message_key"].encode(), headers=headers,
            correlation_id=str(row["event_id"]), no_confirm=True, _publish_type=PublishType.PUBLISH,
        ))

    async def _housekeeping(self, conn: asyncpg.Connection) -> None:
        row = await conn.fetchrow(
            """
            SELECT count(*) AS pending, coalesce(extract(epoch FROM now() - min(created_at)), 0) AS oldest
            FROM outbox WHERE state = 'pending'
            """
        )
        OUTBOX_PENDING.labels(self.service).set(row["pending"])
        OUTBOX_OLDEST_AGE.labels(self.service).set(float(row["oldest"]))
        await conn.execute(
            "DELETE FROM outbox WHERE state = 'sent' AND sent_at < now() - make_interval(days => $1)",
            self.retention_days,
        )
