"""Idempotent consumers with a dead-letter topic.

A service declares handlers per event type; the runtime subscribes one consumer per topic
(group = the service), and for each message:
- parses the envelope; a message that cannot be parsed is poison;
- runs the handler in one transaction that also records (consumer, event id) in the inbox,
  so a redelivered event changes nothing twice; offsets are committed after it, in batches, and an
  unexpected failure of the dispatch rewinds the partition (redelivered, never lost);
- retries with backoff while the database is unreachable (the partition waits, nothing is lost);
- sends any other failure to `<topic>.dlt` with the reason, and the partition goes on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import asyncpg
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from prometheus_client import Counter
from aiokafka import TopicPartition
from pydantic import ValidationError

from carnet_contracts.envelope import Envelope, Event, UnknownEvent
from carnet_contracts.topics import Topic

from .retry import retry

log = logging.getLogger(__name__)

E = TypeVar("E", bound=Event)
Handler = Callable[[asyncpg.Connection, Any, Envelope], Awaitable[None]]

EVENTS_CONSUMED = Counter(
    "carnet_events_consumed_total", "Events handled by a consumer, by outcome", ["service", "event_type", "outcome"]
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


class Consumers:
    def __init__(self, service: str, *, group: str | None = None, max_backoff_seconds: float = 5.0):
        self.service = service
        self.group = group or service
        self.committer = OffsetCommitter()
        self.max_backoff_seconds = max_backoff_seconds
        self._handlers: dict[Topic, dict[str, Handler]] = {}

    def on(self, event: type[E]) -> Callable[[Callable[[asyncpg.Connection, E, Envelope], Awaitable[None]]], Any]:
        """Register `handler(conn, event, envelope)` for one event type, called inside a transaction."""

        def register(handler: Handler) -> Handler:
            self._handlers.setdefault(event.topic, {})[event.event_type] = handler
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
                # Offsets are committed by `committer`, after the handler's transaction, in batches.
                ack_policy=AckPolicy.MANUAL,
                auto_offset_reset="earliest",
                title=f"{self.service}:{topic.name}",
                description=f"Key: {topic.key}. Envelope whose data is one of: {', '.join(handlers)} "
                f"(other event types on this topic are skipped).",
            )(dispatch)

    def _dispatcher(self, topic: Topic, handlers: dict[str, Handler], broker: KafkaBroker, pool_of):
        consumers = self

        async def consume(message: KafkaMessage) -> None:
            try:
                await consumers.handle(topic, handlers, broker, pool_of(), message)
            except Exception:
                await message.nack()  # rewinds the partition: the message is redelivered, never lost
                raise
            consumers.committer.processed(message.consumer, message.raw_message)

        consume.__name__ = f"consume_{topic.name.replace('.', '_')}"
        return consume

    async def handle(self, topic: Topic, handlers: dict[str, Handler], broker, pool: asyncpg.Pool, message) -> None:
        raw = message.raw_message
        try:
            envelope = Envelope.model_validate_json(message.body)
        except (ValidationError, ValueError) as exc:
            await self._dead_letter(broker, topic, message, _safe_reason(exc))
            return
        handler = handlers.get(envelope.event_type)
        if handler is None:
            return  # another event on this topic, not one this service cares about
        try:
            event = envelope.unwrap()
        except (ValidationError, UnknownEvent) as exc:
            await self._dead_letter(broker, topic, message, _safe_reason(exc))
            return
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
                    await handler(conn, event, envelope)
                return bool(first_time)

        def retried(_: BaseException) -> None:
            EVENTS_CONSUMED.labels(self.service, envelope.event_type, "retried").inc()

        try:
            applied = await retry(apply_once, transient=TRANSIENT_ERRORS, max_wait=self.max_backoff_seconds,
                                  what=f"applying {envelope.event_type} from {raw.topic}", on_retry=retried)
        except Exception as exc:
            await self._dead_letter(broker, topic, message, _safe_reason(exc), envelope.event_type)
            return
        EVENTS_CONSUMED.labels(self.service, envelope.event_type, "applied" if applied else "duplicate").inc()

    async def _dead_letter(self, broker, topic: Topic, message, reason: str, event_type: str = "unknown") -> None:
        raw = message.raw_message
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
