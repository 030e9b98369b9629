"""A subscriber whose Kafka consumer stopped for good is restarted.

An aiokafka consumer works through two background tasks: its group coordination (joining the group,
heartbeats, assignments, commits) and its fetcher. Each retries the errors aiokafka expects; an unexpected
one ends the task, and the consumer never recovers: it keeps its partitions on paper, fetches nothing, and
every poll raises the same error again (FastStream logs "Kafka error occurred" and polls again 5 s later).
That is how a killed broker once left the wallet without redemption events for good (aiokafka_on_uvloop.py
is that cause's fix). Whatever the next unexpected error is, the watch notices the ended task and restarts
the subscriber: a new consumer joins the group, and the events not yet committed are delivered again (the
inbox makes that harmless).

aiokafka keeps both tasks private; the watch reads them here only, and its integration test fails if they
change (test_consumer_watch.py).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from prometheus_client import Counter

from .retry import periodically, retry

log = logging.getLogger(__name__)

CONSUMER_RESTARTS = Counter(
    "carnet_consumer_restarts_total",
    "Subscribers restarted because their Kafka consumer had stopped for good",
    ["service", "topics"],
)


def ended_with(consumer: Any) -> BaseException | None:
    """The error that ended the consumer's group coordination or its fetcher; None while both run (or
    were stopped, as `consumer.stop()` does)."""
    coordinator, fetcher = getattr(consumer, "_coordinator", None), getattr(consumer, "_fetcher", None)
    tasks = (getattr(coordinator, "_coordination_task", None), getattr(fetcher, "error_future", None))
    for task in tasks:
        if isinstance(task, asyncio.Future) and task.done() and not task.cancelled() and task.exception():
            return task.exception()
    return None


class ConsumerWatch:
    def __init__(self, service: str, broker: Any, *, interval_seconds: float = 5.0):
        self.service = service
        self.broker = broker
        self.interval_seconds = interval_seconds

    async def run(self) -> None:
        await periodically(self.interval_seconds, self.check_once, what="consumer watch")

    async def check_once(self) -> list[Any]:
        """Restart each subscriber whose consumer has stopped for good; return them."""
        restarted = []
        for subscriber in list(self.broker.subscribers):
            consumer = getattr(subscriber, "consumer", None)
            error = ended_with(consumer) if consumer is not None else None
            if error is None:
                continue
            topics = ",".join(sorted(subscriber.topic_names))
            log.error("a Kafka consumer stopped for good: its subscriber is restarted",
                      extra={"topics": topics, "error": f"{type(error).__name__}: {error}"[:300]})
            try:
                await subscriber.stop()
            except Exception as exc:  # the dead consumer may fail to leave its group: the new one joins anyway
                log.warning("the stopped consumer did not close cleanly", extra={"error": type(exc).__name__})
            # until Kafka answers again: a subscriber left stopped would never be looked at again
            await retry(subscriber.start, max_wait=self.interval_seconds, what=f"restarting the consumer of {topics}")
            CONSUMER_RESTARTS.labels(self.service, topics).inc()
            restarted.append(subscriber)
        return restarted
