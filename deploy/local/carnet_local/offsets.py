"""Where a consumer group stands on Kafka topics: end offsets, committed offsets, lag, and the barrier
a test waits on before it checks that something did NOT happen (the group has committed everything
published before the call). Used by the test plugin (testing.py)."""

from __future__ import annotations

import asyncio
import time
from typing import Any


async def describe_topics(bootstrap: str, topics: list[str]) -> list[dict[str, Any]]:
    """What the cluster says of `topics`: each one's partitions, or its error code when it does not know it."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return await admin.describe_topics(topics)
    finally:
        await admin.close()


async def _partitions(bootstrap: str, topics: list[str]) -> list[Any]:
    """Every partition of `topics` (a topic the broker does not know has none)."""
    from aiokafka import TopicPartition

    described = await describe_topics(bootstrap, topics)
    return [TopicPartition(d["topic"], p["partition"]) for d in described if not d.get("error_code")
            for p in sorted(d["partitions"], key=lambda p: p["partition"])]


async def end_offsets(bootstrap: str, topics: list[str]) -> dict[Any, int]:
    """The end offset (next offset to be written) of every partition of `topics`, now."""
    from aiokafka import AIOKafkaConsumer

    partitions = await _partitions(bootstrap, topics)
    if not partitions:
        return {}
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        return dict(await consumer.end_offsets(partitions))
    finally:
        await consumer.stop()


async def _group_offsets(admin: Any, group: str, partitions: list[Any]) -> dict[Any, Any]:
    from aiokafka.errors import KafkaError

    for attempt in range(50):  # the group coordinator may still be starting (a new broker)
        try:
            return await admin.list_consumer_group_offsets(group, partitions=partitions)
        except KafkaError:
            if attempt == 49:
                raise
            await asyncio.sleep(0.2)
    raise AssertionError("unreachable")


async def committed_offsets(bootstrap: str, group: str, partitions: list[Any]) -> dict[Any, int]:
    """The offsets `group` has committed on `partitions` (0 where it never committed)."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        committed = await _group_offsets(admin, group, partitions)
    finally:
        await admin.close()
    return {tp: max(0, committed[tp].offset) if tp in committed else 0 for tp in partitions}


async def consumer_lag(bootstrap: str, group: str, topics: list[str], *, ends: dict[Any, int] | None = None) -> int:
    """How many records of `topics` `group` has not committed yet: end offsets (now, or `ends`)
    minus committed offsets, summed over the partitions."""
    ends = ends if ends is not None else await end_offsets(bootstrap, topics)
    committed = await committed_offsets(bootstrap, group, list(ends))
    return sum(max(0, end - committed[tp]) for tp, end in ends.items())


class GroupLag:
    """A consumer group's lag on some topics, measured again and again over two open connections
    (a few milliseconds a measure): for a test that watches a service's backlog as it happens.

        async with GroupLag(bootstrap, "wallet", ["enrolment.applications"]) as lag:
            if await lag.now() > 0: ...
    """

    def __init__(self, bootstrap: str, group: str, topics: list[str]):
        self.bootstrap, self.group, self.topics = bootstrap, group, topics

    async def __aenter__(self) -> GroupLag:
        from aiokafka import AIOKafkaConsumer
        from aiokafka.admin import AIOKafkaAdminClient

        self.partitions = await _partitions(self.bootstrap, self.topics)
        self.consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False)
        self.admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        await self.consumer.start()
        await self.admin.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.consumer.stop()
        await self.admin.close()

    async def now(self) -> int:
        """Records published on the topics that the group has not committed yet."""
        ends = await self.consumer.end_offsets(self.partitions)
        committed = await _group_offsets(self.admin, self.group, self.partitions)
        return sum(max(0, end - (max(0, committed[tp].offset) if tp in committed else 0)) for tp, end in ends.items())


async def wait_caught_up(bootstrap: str, group: str, topics: list[str], *, timeout: float = 60.0) -> None:
    """The barrier before checking an absence: wait until `group` has committed every record
    published on `topics` before this call (its committed offsets reach the end offsets read now).

    A service commits an offset only after the transaction that applied the record, so once this
    returns, whatever those records were going to change in the service's database has changed.
    """
    ends = await end_offsets(bootstrap, topics)
    deadline = time.monotonic() + timeout
    while True:
        lag = await consumer_lag(bootstrap, group, topics, ends=ends)
        if lag == 0:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"consumer group {group} still {lag} records behind {topics} after {timeout} s")
        await asyncio.sleep(0.1)


async def position_group_at_end(bootstrap: str, group: str, topics: list[str]) -> None:
    """Commit the current end offsets of `topics` for `group`: a process of this group starts with
    what is published from now on, not with what earlier tests left on the session's topics."""
    from aiokafka import AIOKafkaConsumer

    partitions = await _partitions(bootstrap, topics)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        ends = await consumer.end_offsets(partitions)
        consumer.assign(partitions)
        await consumer.commit(dict(ends))
    finally:
        await consumer.stop()
