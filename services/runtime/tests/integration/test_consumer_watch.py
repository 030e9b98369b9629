"""The consumer watch on the real broker: a subscriber whose Kafka consumer stopped for good (its group
coordination ended on an unexpected error, as a killed broker once did to the wallet's) is restarted and
gets the events it missed; a working one is left alone."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

import pytest
from aiokafka.errors import KafkaError
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from prometheus_client import REGISTRY

from carnet_runtime.consumer_watch import ConsumerWatch, ended_with

pytestmark = pytest.mark.integration


async def until(what: str, condition: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout:.0f} s")
        await asyncio.sleep(0.1)


def end_group_coordination(consumer) -> None:
    """The consumer's group coordination ends on an error aiokafka did not expect: the state the uvloop
    RuntimeError left the wallet's consumer in (aiokafka wraps it the same way)."""
    coordinator = consumer._coordinator
    coordinator._coordination_task.cancel()
    ended = asyncio.get_running_loop().create_future()
    ended.set_exception(KafkaError("Unexpected error during coordination RuntimeError('the handler is closed')"))
    coordinator._coordination_task = ended


async def test_a_subscriber_whose_consumer_stopped_for_good_is_restarted_and_gets_the_events_it_missed(stack):
    topic = f"watch.probe.{uuid.uuid4().hex[:8]}"
    handled: list[bytes] = []
    broker = KafkaBroker(stack.kafka_bootstrap)

    # polled as the runtime's subscribers are (consumers.py): a batch at most every 20 ms
    @broker.subscriber(topic, group_id=f"watch-{topic}", batch=True, batch_timeout_ms=20, ack_policy=AckPolicy.ACK,
                       auto_offset_reset="earliest")
    async def handle(bodies: list[bytes]) -> None:
        handled.extend(bodies)

    watch = ConsumerWatch("watchprobe", broker, interval_seconds=0.2)
    await broker.start()
    try:
        await broker.publish(b"before", topic=topic)
        await until("the first event handled", lambda: handled == [b"before"])
        (subscriber,) = broker.subscribers
        first = subscriber.consumer
        assert ended_with(first) is None
        assert await watch.check_once() == []  # a working consumer is left alone

        end_group_coordination(first)
        assert isinstance(ended_with(first), KafkaError)
        await asyncio.sleep(0.5)  # the poll in flight returned: the next ones fail
        await broker.publish(b"while stopped", topic=topic)
        await asyncio.sleep(3)
        assert handled == [b"before"], "the stopped consumer got an event: the premise of this test is gone"

        assert await watch.check_once() == [subscriber]
        assert subscriber.consumer is not None and subscriber.consumer is not first
        await until("the missed event handled after the restart", lambda: b"while stopped" in handled)
        await broker.publish(b"after", topic=topic)
        await until("a new event handled", lambda: handled[-1] == b"after")
        assert handled.count(b"before") == 1  # committed before the stop: not delivered again
        assert await watch.check_once() == []
        assert REGISTRY.get_sample_value("carnet_consumer_restarts_total",
                                         {"service": "watchprobe", "topics": topic}) == 1
    finally:
        await broker.stop()
