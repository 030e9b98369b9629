"""Idempotent consumers with a dead-letter topic, applied in batches.

A service declares handlers per event type; the runtime subscribes one consumer per topic
(group = the service) that receives the records already fetched, up to `batch_max_records` at a time
(FastStream's batch subscriber), and:
- parses each envelope; a record that cannot be parsed is poison;
- applies the batch in ONE transaction: one inbox insert records every (consumer, event id) and says
  which are new, then the handlers of the new ones run in the records' order (per partition, so per
  key) on that transaction's connection, so a redelivered event changes nothing twice; an event type
  registered with `alone=True` is applied in a transaction of its own, in its place in the order; one
  registered with `on_batch` gets the new events of its type that follow one another at once;
- retries with backoff while the database is unreachable (the partition waits, nothing is lost);
- when the batch's transaction fails otherwise, applies its events one at a time, each in its own
  transaction, so that only the failing one goes to `<topic>.dlt` with the reason, and the partition
  goes on;
- commits offsets after the transactions, in batches; an unexpected failure of the dispatch rewinds
  every partition of the batch to its first record (redelivered, never lost).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import asyncpg
from aiokafka import ConsumerRecord, TopicPartition
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from opentelemetry import propagate, trace
from prometheus_client import Counter, Histogram
from pydantic import ValidationError

from carnet_contracts.envelope import Envelope, Event, UnknownEvent
from carnet_contracts.topics import Topic

from .retry import retry

log = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)

E = TypeVar("E", bound=Event)
Handler = Callable[[asyncpg.Connection, Any, Envelope], Awaitable[None]]
BatchHandler = Callable[[asyncpg.Connection, Sequence[Any], Sequence[Envelope]], Awaitable[None]]

EVENTS_CONSUMED = Counter(
    "carnet_events_consumed_total", "Events handled by a consumer, by outcome", ["service", "event_type", "outcome"]
)
BATCH_SIZE = Histogram(
    "carnet_consumer_batch_events", "Events in one consumer transaction (new ones and ones already applied)",
    ["service"],
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500),
)


class RetryLater(Exception):
    """Raised by a handler when the event cannot be applied yet but will be (e.g. a dependency is down)."""


TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    RetryLater,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.OperatorInterventionError,
    asyncpg.TransactionRollbackError,
    asyncpg.InsufficientResourcesError,
)


class OffsetCommitter:
    """Commits the offsets of processed messages at most every `interval` seconds.

    A commit per message costs a broker round trip (about 90 messages/s here); committing what
    the handlers' transactions have already made durable, a little later and in one request,
    keeps the guarantee: a crash before the commit only redelivers, and the inbox absorbs that.
    """

    def __init__(self, interval: float = 0.1):
        self.interval = interval
        self._pending: dict[Any, dict[TopicPartition, int]] = {}
        self._task: asyncio.Task | None = None

    def processed(self, consumer: Any, record: Any) -> None:
        self._pending.setdefault(consumer, {})[TopicPartition(record.topic, record.partition)] = record.offset + 1
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._flush_soon())

    async def _flush_soon(self) -> None:
        while self._pending:
            await asyncio.sleep(self.interval)
            await self.flush()

    async def flush(self) -> None:
        pending, self._pending = self._pending, {}
        for consumer, offsets in pending.items():
            try:
                await consumer.commit(offsets)
            except Exception as exc:  # e.g. a rebalance took the partition: its next owner redelivers
                log.warning("offset commit failed", extra={"error": type(exc).__name__})


def _safe_reason(exc: BaseException) -> str:
    """Why a message was rejected, without echoing its (possibly personal) content."""
    if isinstance(exc, ValidationError):
        fields = ", ".join(f"{'.'.join(map(str, e['loc']))}: {e['type']}" for e in exc.errors(include_input=False)[:10])
        return f"invalid event: {fields}"
    return f"{type(exc).__name__}: {str(exc)[:300]}"


@dataclass(frozen=True)
class _Registration:
    handler: Handler | BatchHandler
    alone: bool = False  # applied in a transaction of its own, never batched with other events
    many: bool = False  # a BatchHandler: the new events of its type that follow one another, at once


@dataclass(frozen=True)
class _Applicable:
    """A record parsed into its event, with the handler that applies it."""

    record: ConsumerRecord
    envelope: Envelope
    event: Event
    registration: _Registration


@dataclass(frozen=True)
class _Poison:
    record: ConsumerRecord
    reason: str
    event_type: str = "unknown"


INBOX_MANY_SQL = """
INSERT INTO inbox (consumer, event_id, event_type)
SELECT $1, e.event_id, e.event_type FROM unnest($2::uuid[], $3::text[]) AS e(event_id, event_type)
ON CONFLICT DO NOTHING
RETURNING event_id
"""


class Consumers:
    def __init__(self, service: str, *, group: str | None = None, max_backoff_seconds: float = 5.0,
                 batch_max_records: int = 100, batch_timeout_ms: int = 20):
        self.service = service
        self.group = group or service
        self.committer = OffsetCommitter()
        self.max_backoff_seconds = max_backoff_seconds
        self.batch_max_records = max(1, batch_max_records)
        self.batch_timeout_ms = batch_timeout_ms
        self._handlers: dict[Topic, dict[str, _Registration]] = {}

    def on(self, event: type[E], *, alone: bool = False
           ) -> Callable[[Callable[[asyncpg.Connection, E, Envelope], Awaitable[None]]], Any]:
        """Register `handler(conn, event, envelope)` for one event type, called inside a transaction
        (shared with the other events of the batch; its own with `alone=True`, for a handler that must
        not wait for, or be undone with, other events)."""

        def register(handler: Handler) -> Handler:
            self._handlers.setdefault(event.topic, {})[event.event_type] = _Registration(handler, alone=alone)
            return handler

        return register

    def on_batch(self, event: type[E]
                 ) -> Callable[[Callable[[asyncpg.Connection, Sequence[E], Sequence[Envelope]], Awaitable[None]]], Any]:
        """Register `handler(conn, events, envelopes)` for one event type whose handling a batch makes
        cheaper (one query for many events): it gets the new events of that type that follow one another
        in a batch, in their order, inside the batch's transaction (a list of one when the events are
        applied one at a time)."""

        def register(handler: BatchHandler) -> BatchHandler:
            self._handlers.setdefault(event.topic, {})[event.event_type] = _Registration(handler, many=True)
            return handler

        return register

    @property
    def topics(self) -> list[Topic]:
        return list(self._handlers)

    def subscribe(self, broker: KafkaBroker, pool_of: Callable[[], asyncpg.Pool]) -> None:
        # One subscriber per topic dispatching on the envelope's `event_type` itself, rather than
        # FastStream's filtered subscribers (`filter=` on the `event-type` header): every message of a
        # topic must go through the same inbox transaction, dead-letter path and offset bookkeeping,
        # including the event types this service ignores, whose offsets must still be committed, and
        # a message without the header (published by hand, or poison) must reach the dead-letter topic.
        for topic, handlers in self._handlers.items():
            dispatch = self._dispatcher(topic, handlers, broker, pool_of)
            broker.subscriber(
                topic.name,
                group_id=self.group,
                # The records already fetched, up to max_records. A poll that finds none waits batch_timeout_ms
                # for some, then (FastStream) sleeps as long before the next: the most an event waits here.
                batch=True,
                max_records=self.batch_max_records,
                batch_timeout_ms=self.batch_timeout_ms,
                # Offsets are committed by `committer`, after the handlers' transactions, in batches.
                ack_policy=AckPolicy.MANUAL,
                auto_offset_reset="earliest",
                decoder=_undecoded,
                title=f"{self.service}:{topic.name}",
                description=f"Key: {topic.key}. Envelope whose data is one of: {', '.join(handlers)} "
                f"(other event types on this topic are skipped).",
            )(dispatch)

    def _dispatcher(self, topic: Topic, handlers: dict[str, _Registration], broker: KafkaBroker, pool_of):
        consumers = self

        async def consume(message: KafkaMessage) -> None:
            try:
                await consumers.handle(topic, handlers, broker, pool_of(), message)
            except Exception:
                await message.nack()  # rewinds each partition to the batch's first record: redelivered, never lost
                raise
            for record in _records(message):
                consumers.committer.processed(message.consumer, record)

        consume.__name__ = f"consume_{topic.name.replace('.', '_')}"
        return consume

    async def handle(self, topic: Topic, handlers: dict[str, _Registration], broker, pool: asyncpg.Pool,
                     message) -> None:
        """Apply a batch of records in their order: consecutive events in one transaction, poison
        records to the dead-letter topic, `alone` events each in its own transaction."""
        together: list[_Applicable] = []
        for record in _records(message):
            parsed = self._parse(record, handlers)
            if parsed is None:
                continue  # another event on this topic, not one this service cares about
            if isinstance(parsed, _Applicable) and not parsed.registration.alone:
                together.append(parsed)
                continue
            await self._apply(broker, topic, pool, together)
            together = []
            if isinstance(parsed, _Poison):
                await self._dead_letter(broker, topic, parsed.record, parsed.reason, parsed.event_type)
            else:
                await self._apply_one(broker, topic, pool, parsed)
        await self._apply(broker, topic, pool, together)

    def _parse(self, record: ConsumerRecord, handlers: dict[str, _Registration]) -> _Applicable | _Poison | None:
        try:
            envelope = Envelope.model_validate_json(record.value or b"")
        except (ValidationError, ValueError) as exc:
            return _Poison(record, _safe_reason(exc))
        registration = handlers.get(envelope.event_type)
        if registration is None:
            return None
        try:
            event = envelope.unwrap()
        except (ValidationError, UnknownEvent) as exc:
            return _Poison(record, _safe_reason(exc), envelope.event_type)
        return _Applicable(record, envelope, event, registration)

    async def _apply(self, broker, topic: Topic, pool: asyncpg.Pool, items: list[_Applicable]) -> None:
        """Several events in one transaction; one at a time if that transaction cannot commit."""
        if len(items) <= 1:
            for item in items:
                await self._apply_one(broker, topic, pool, item)
            return

        async def apply_all() -> list[_Applicable]:
            applied: list[_Applicable] = []
            async with pool.acquire() as conn, conn.transaction():
                fresh = set(r[0] for r in await conn.fetch(
                    INBOX_MANY_SQL, self.service, [i.envelope.event_id for i in items],
                    [i.envelope.event_type for i in items]))
                for item in items:
                    if item.envelope.event_id in fresh:
                        fresh.discard(item.envelope.event_id)  # the same event twice in one batch: once
                        applied.append(item)
                for run in _runs(applied):
                    await _call(conn, run)
            return applied

        def retried(_: BaseException) -> None:
            for item in items:
                EVENTS_CONSUMED.labels(self.service, item.envelope.event_type, "retried").inc()

        try:
            applied = await retry(apply_all, transient=TRANSIENT_ERRORS, max_wait=self.max_backoff_seconds,
                                  what=f"applying {len(items)} events from {topic.name}", on_retry=retried)
        except Exception as exc:
            log.warning("a batch could not be applied: its events are applied one at a time",
                        extra={"topic": topic.name, "events": len(items), "error": type(exc).__name__})
            for item in items:
                await self._apply_one(broker, topic, pool, item)
            return
        BATCH_SIZE.labels(self.service).observe(len(items))
        applied_ids = {id(i) for i in applied}
        for item in items:
            outcome = "applied" if id(item) in applied_ids else "duplicate"
            EVENTS_CONSUMED.labels(self.service, item.envelope.event_type, outcome).inc()

    async def _apply_one(self, broker, topic: Topic, pool: asyncpg.Pool, item: _Applicable) -> None:
        envelope = item.envelope

        async def apply_once() -> bool:
            async with pool.acquire() as conn, conn.transaction():
                first_time = await conn.fetchval(
                    """
                    INSERT INTO inbox (consumer, event_id, event_type) VALUES ($1, $2, $3)
                    ON CONFLICT DO NOTHING RETURNING true
                    """,
                    self.service,
                    envelope.event_id,
                    envelope.event_type,
                )
                if first_time:
                    await _call(conn, [item])
                return bool(first_time)

        def retried(_: BaseException) -> None:
            EVENTS_CONSUMED.labels(self.service, envelope.event_type, "retried").inc()

        try:
            applied = await retry(apply_once, transient=TRANSIENT_ERRORS, max_wait=self.max_backoff_seconds,
                                  what=f"applying {envelope.event_type} from {topic.name}", on_retry=retried)
        except Exception as exc:
            await self._dead_letter(broker, topic, item.record, _safe_reason(exc), envelope.event_type)
            return
        BATCH_SIZE.labels(self.service).observe(1)
        EVENTS_CONSUMED.labels(self.service, envelope.event_type, "applied" if applied else "duplicate").inc()

    async def _dead_letter(self, broker, topic: Topic, raw: ConsumerRecord, reason: str,
                           event_type: str = "unknown") -> None:
        headers = {k: (v.decode(errors="replace") if isinstance(v, bytes) else str(v)) for k, v in (raw.headers or [])}
        headers.update(
            {
                "x-dead-letter-reason": reason,
                "x-original-topic": raw.topic,
                "x-original-partition": str(raw.partition),
                "x-original-offset": str(raw.offset),
                "x-consumer-group": self.group,
            }
        )
        # The message is acknowledged only once its dead-letter copy is safe.
        await retry(lambda: broker.publish(raw.value, topic=topic.dead_letter_name, key=raw.key, headers=headers),
                    max_wait=self.max_backoff_seconds, what="dead-letter publish")
        EVENTS_CONSUMED.labels(self.service, event_type, "dead_lettered").inc()
        log.error(
            "poison message sent to the dead-letter topic",
            extra={"topic": raw.topic, "partition": raw.partition, "offset": raw.offset, "reason": reason},
        )


async def _undecoded(message: Any) -> Any:
    """FastStream's decoder, which would parse every record's JSON before `handle` parses it again into
    its envelope: the bodies as they came."""
    return message.body


def _runs(items: list[_Applicable]) -> Iterator[list[_Applicable]]:
    """The items in order, those of a batch handler that follow one another together, the others alone."""
    run: list[_Applicable] = []
    for item in items:
        if run and not (item.registration.many and item.registration is run[0].registration):
            yield run
            run = []
        run.append(item)
    if run:
        yield run


async def _call(conn: asyncpg.Connection, run: list[_Applicable]) -> None:
    registration = run[0].registration
    spans = [_event_span(item) for item in run]
    try:
        if registration.many:  # each event's span covers the handling of its run
            await registration.handler(conn, [i.event for i in run], [i.envelope for i in run])
        else:
            # the handler's queries show under the event's span (its failure is recorded below)
            with trace.use_span(spans[0], record_exception=False, set_status_on_exception=False):
                await registration.handler(conn, run[0].event, run[0].envelope)
    except Exception as exc:
        for span in spans:
            span.record_exception(exc)
            span.set_status(trace.Status(trace.StatusCode.ERROR, type(exc).__name__))
        raise
    finally:
        for span in spans:
            span.end()


def _records(message) -> tuple[ConsumerRecord, ...]:
    raw = message.raw_message
    return raw if isinstance(raw, tuple) else (raw,)


def _event_span(item: _Applicable) -> trace.Span:
    """The event's own span, a child of the span that published it (the relay's, under the trace of
    the request that caused the event). Few attributes and no link to the batch's span: a span costs
    tens of microseconds, and there is one per event."""
    record = item.record
    parent = propagate.extract({k: v.decode(errors="replace") for k, v in record.headers or () if isinstance(v, bytes)})
    return tracer.start_span(
        f"{record.topic} process",
        context=parent,
        kind=trace.SpanKind.CONSUMER,
        attributes={"messaging.kafka.message.offset": record.offset, "carnet.event_type": item.envelope.event_type},
    )
