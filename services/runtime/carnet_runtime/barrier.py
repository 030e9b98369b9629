"""A causal barrier on Kafka: "this service's consumer group has applied everything that was on topic T
when I asked".

A request whose answer depends on what another service said on T (say, a reimbursement batch locking
redemptions) first reads T's end offsets, then waits until the group's *committed* offsets reach them.
The runtime commits an offset only after the handler's transaction committed (consumers.py,
OffsetCommitter), so once the barrier passes every event that was on T is visible in the database,
whichever replica or worker process applied it. Read from the broker with a client of its own, never
from in-process state. A partition with nothing readable (end offset 0, or every record gone) needs
nothing.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from .purge import kafka_client_kwargs
from .settings import ServiceSettings

log = logging.getLogger(__name__)


class GroupBarrier:
    """`await barrier.caught_up(topic, within=s)`: True once `group` committed, on every partition of
    `topic`, the end offset read at the call; False when `within` seconds ran out or the broker could
    not be asked (the caller refuses, retryable). Its Kafka clients start at the first call."""

    def __init__(self, settings: ServiceSettings, group: str, *, poll_seconds: float = 0.05):
        self.settings = settings
        self.group = group
        self.poll_seconds = poll_seconds
        self._admin: AIOKafkaAdminClient | None = None
        self._consumer: AIOKafkaConsumer | None = None  # no group: only reads offsets
        self._partitions: dict[str, list[TopicPartition]] = {}
        self._starting = asyncio.Lock()

    async def caught_up(self, topic: str, *, within: float) -> bool:
        try:
            async with asyncio.timeout(within):
                await self._wait(topic)
            return True
        except TimeoutError:
            log.warning("consumer group not caught up in time", extra={"topic": topic, "within_seconds": within})
            return False
        except Exception as exc:  # broker away, group coordinator moving: the clients are made again next time
            log.warning("consumer group barrier failed", extra={"topic": topic, "error": type(exc).__name__})
            await self.close()
            return False

    async def _wait(self, topic: str) -> None:
        admin, consumer = await self._clients()
        partitions = await self._partitions_of(admin, topic)
        ends = await consumer.end_offsets(partitions)
        waiting = [tp for tp in partitions if ends[tp] > 0]
        if waiting:
            starts = await consumer.beginning_offsets(waiting)
            waiting = [tp for tp in waiting if starts[tp] < ends[tp]]  # records gone (retention): nothing to apply
        while waiting:
            committed = await admin.list_consumer_group_offsets(self.group, partitions=waiting)
            waiting = [tp for tp in waiting if tp not in committed or committed[tp].offset < ends[tp]]
            if waiting:
                await asyncio.sleep(self.poll_seconds)

    async def _partitions_of(self, admin: AIOKafkaAdminClient, topic: str) -> list[TopicPartition]:
        if topic not in self._partitions:
            described = await admin.describe_topics([topic])
            found = [TopicPartition(d["topic"], p["partition"]) for d in described
                     if d["topic"] == topic and not d["error_code"] for p in d["partitions"]]
            if not found:
                raise LookupError(f"no topic {topic} on the broker")
            self._partitions[topic] = found
        return self._partitions[topic]

    async def _clients(self) -> tuple[AIOKafkaAdminClient, AIOKafkaConsumer]:
        async with self._starting:
            if self._admin is None or self._consumer is None:
                kwargs = kafka_client_kwargs(self.settings)
                admin = AIOKafkaAdminClient(**kwargs, client_id=f"carnet-{self.settings.service_name}-barrier")
                consumer = AIOKafkaConsumer(**kwargs, enable_auto_commit=False,
                                            client_id=f"carnet-{self.settings.service_name}-barrier")
                try:
                    await admin.start()
                    await consumer.start()
                except BaseException:
                    await _quietly_close(admin, consumer)
                    raise
                self._admin, self._consumer = admin, consumer
            return self._admin, self._consumer

    async def close(self) -> None:
        admin, consumer, self._admin, self._consumer = self._admin, self._consumer, None, None
        self._partitions = {}
        await _quietly_close(admin, consumer)


async def _quietly_close(admin: AIOKafkaAdminClient | None, consumer: AIOKafkaConsumer | None) -> None:
    if consumer is not None:
        with suppress(Exception):
            await consumer.stop()
    if admin is not None:
        with suppress(Exception):
            await admin.close()
