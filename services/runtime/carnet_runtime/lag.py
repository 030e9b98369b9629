"""Consumer lag as Prometheus sees it: for each partition this replica is assigned, the broker's
end offset minus the group's committed offset, read from the subscribers' own Kafka consumers.

Committed, not fetched, offsets: an event counts as done only once its transaction committed and
the runtime's offset committer committed it (consumers.py: AckPolicy.MANUAL, commits in batches
after the handlers' transactions), and that is also what KEDA's Kafka scaler measures, so the dashboard and the
autoscaler agree. Partitions a rebalance moved to another replica stop being reported here.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import Gauge

from .retry import periodically

CONSUMER_LAG = Gauge(
    "carnet_consumer_lag",
    "Events on a partition not yet committed by the service's consumer group",
    ["service", "topic", "partition"],
)


class ConsumerLagMonitor:
    def __init__(self, service: str, broker: Any, *, interval_seconds: float = 15.0):
        self.service = service
        self.broker = broker
        self.interval_seconds = interval_seconds
        self._reported: set[tuple[str, int]] = set()

    async def run(self) -> None:
        # a failed measure (broker away, rebalancing) is logged; the next tick measures again
        await periodically(self.interval_seconds, self.measure_once, what="consumer lag measure")

    async def measure_once(self) -> dict[tuple[str, int], int]:
        lags: dict[tuple[str, int], int] = {}
        for subscriber in self.broker.subscribers:
            consumer = getattr(subscriber, "consumer", None)
            if consumer is None:
                continue
            assigned = list(consumer.assignment())
            if not assigned:
                continue
            ends = await consumer.end_offsets(assigned)
            starts = None
            for tp in assigned:
                committed = await consumer.committed(tp)
                if committed is None:  # nothing committed yet: the group starts from the earliest offset
                    starts = starts or await consumer.beginning_offsets(assigned)
                    committed = starts[tp]
                lags[(tp.topic, tp.partition)] = max(ends[tp] - committed, 0)
        for topic, partition in self._reported - set(lags):
            CONSUMER_LAG.remove(self.service, topic, str(partition))
        for (topic, partition), lag in lags.items():
            CONSUMER_LAG.labels(self.service, topic, str(partition)).set(lag)
        self._reported = set(lags)
        return lags
