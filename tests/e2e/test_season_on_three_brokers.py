"""Whole seasons on a Kafka cluster of three brokers (KRaft, replication 3, min.insync.replicas 2, as in
production), driven by the code of `carnet demo`: one undisturbed, one during which a broker is SIGKILLed
and later restarted, one during which the metadata quorum's leader (the active controller) is.

The disturbed seasons end with the same figures as the undisturbed one: no event lost (every outbox row
published, every effect in every service), none applied twice, no redemption answered twice. Each kill
falls while the counters' scans are in flight, and is shown to have met work: requests sent and not yet
answered when the node died (counted by the season's own request limit) or outbox rows written before and
unsent after; and the partitions the dead node led took writes through their new leaders while it was down.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, TypeVar

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from carnet_contracts.topics import ALL_TOPICS
from carnet_local.endpoints import Endpoints
from carnet_local.season import Season, SeasonOutcome, SeasonSize
from carnet_local.processes import free_port
from carnet_local.report import gather
from carnet_local.smtp import start_capture
from carnet_local.testing import ServiceProcess

if TYPE_CHECKING:
    from carnet_local.testing import TestStack

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

SERVICES = ("enrolment", "wallet", "redemption", "affiliation", "notification")
SIZE = SeasonSize(families=26, schools=2, affiliates=3, seed=7)
T = TypeVar("T")


@dataclass
class System:
    stack: TestStack
    services: dict[str, ServiceProcess]
    endpoints: Endpoints

    def database(self, name: str) -> str:
        return self.services[name].env[f"CARNET_{name.upper()}_DATABASE_URL"]

    async def query(self, name: str, sql: str, *args):
        conn = await asyncpg.connect(self.database(name))
        try:
            return await conn.fetchval(sql, *args)
        finally:
            await conn.close()


@pytest.fixture(scope="module")
def system(stack_on_three_brokers, tmp_path_factory) -> Iterator[System]:
    """The five services, each its own process and database, on the three-broker cluster."""
    stack = stack_on_three_brokers
    mail_dir, smtp_port = tmp_path_factory.mktemp("mail"), free_port()
    capture = start_capture(mail_dir, smtp_port)
    services: dict[str, ServiceProcess] = {}
    try:
        services = stack.five_services(smtp_port=smtp_port, timeout=180).processes
        urls = {name: s.url for name, s in services.items()}
        yield System(stack, services, Endpoints(**urls, keys_dir=stack.keys_dir, mail_dir=mail_dir,
                                                kafka_bootstrap=stack.kafka_bootstrap))
    finally:
        for service in services.values():
            service.stop()
        capture.stop()


class RequestsInFlight(asyncio.Semaphore):
    """The season's limit on concurrent requests, counting those sent and not yet answered."""

    def __init__(self, value: int):
        super().__init__(value)
        self.held = 0

    async def acquire(self) -> bool:
        await super().acquire()
        self.held += 1
        return True

    def release(self) -> None:
        self.held -= 1
        super().release()


def season(system: System, after_phase: Callable[[str], Awaitable[None]] | None = None) -> Season:
    played = Season(system.endpoints, SIZE, timeout=150, after_phase=after_phase)
    played.limit = RequestsInFlight(8)  # each request goes through it (Season.call)
    return played


async def play(system: System, played: Season | None = None) -> tuple[SeasonOutcome, dict]:
    started = time.monotonic()
    # The seasons share the services (and their databases): the two département-wide figures, affiliates
    # and new affiliates, are counted from those this season brought (all of them are new and active).
    earlier = await system.query("affiliation", "SELECT count(*) FROM affiliates")
    outcome = await (played or season(system)).run()
    report = await gather(system.endpoints, system.stack.auth("admin", sub="admin-e2e"), outcome.campaign_id)
    report["affiliates"] -= earlier
    report["new_affiliates"] -= earlier
    assert report["affiliates"] == report["new_affiliates"] == outcome.affiliates
    print(f"\nseason {outcome.campaign_id} played in {time.monotonic() - started:.0f} s; "
          f"requests that met a failure: {dict(outcome.resent)}")
    return outcome, report


def differences(report: dict, undisturbed: dict) -> dict:
    """{figure: (this season's, the undisturbed season's)} where they differ."""
    mine, baseline = comparable(report), comparable(undisturbed)
    return {k: (mine.get(k), baseline.get(k)) for k in mine.keys() | baseline.keys() if mine.get(k) != baseline.get(k)}


def comparable(report: dict) -> dict:
    """The figures of a season, without what names the run or depends on the clock."""
    kept = {k: v for k, v in report.items()
            if k not in ("campaign", "validation_delay", "waiting", "schools", "by_affiliate", "affiliates_by_status")}
    kept["within_promise_ratio"] = report["validation_delay"]["within_promise_ratio"]
    return kept


async def check_nothing_lost_nothing_twice(system: System, outcome: SeasonOutcome, report: dict) -> None:
    """Every event published, every figure what the season did, every redemption answered once."""
    for name in SERVICES:  # the relays published everything (a barrier, not a pause: polled until true)
        deadline = time.monotonic() + 60
        while await system.query(name, "SELECT count(*) FROM outbox WHERE state <> 'sent'"):
            assert time.monotonic() < deadline, f"{name}: outbox rows never published"
            await asyncio.sleep(0.2)
    campaign = outcome.campaign_id
    assert report["tickets_redeemed"] == outcome.redeemed_tickets
    assert report["consumed_cents"] == outcome.redeemed_cents
    assert report["passes_granted"] == outcome.validated and report["wallets"] == outcome.wallets
    assert report["reimbursed_cents"] == outcome.reimbursed_cents and report["pending_cents"] == outcome.pending_cents
    # one live redemption per redeemed ticket, as many as the counters were answered 201 for; the same
    # number of lines at the affiliates and of redeemed tickets in the wallets
    assert await system.query("redemption", "SELECT count(*) FROM redemptions WHERE campaign_id = $1 AND status = 'active'",
                              campaign) == outcome.redeemed_tickets
    assert await system.query("affiliation", "SELECT count(*) FROM statement_lines WHERE campaign_id = $1 AND status <> 'cancelled'",
                              campaign) == outcome.redeemed_tickets
    assert await system.query("wallet", """SELECT count(*) FROM tickets t JOIN wallets w USING (wallet_id)
                                           WHERE w.campaign_id = $1 AND t.status = 'redeemed'""", campaign) == outcome.redeemed_tickets
    assert len(outcome.counter_mistakes) == 4  # the retried scan got its first answer again (the driver checks it)


# --- watching the cluster -------------------------------------------------------------------------------

class ClusterWatch:
    """End offsets, consumer groups' committed offsets and partition leaders, read from the live brokers."""

    def __init__(self, bootstrap: str):
        self.admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
        self.consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, request_timeout_ms=5000)
        self.partitions: list[TopicPartition] = []

    async def __aenter__(self) -> ClusterWatch:
        await self.admin.start()
        await self.consumer.start()
        self.partitions = sorted(await self.leaders())
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.consumer.stop()
        await self.admin.close()

    @staticmethod
    async def _again(read: Callable[[], Awaitable[T]], timeout: float = 90) -> T:
        """`read` until the cluster answers it: with a node gone, leaders and coordinators move first."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return await read()
            except KafkaError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.5)

    async def end_offsets(self) -> dict[TopicPartition, int]:
        return await self._again(lambda: self.consumer.end_offsets(self.partitions))

    async def unconsumed(self, end: dict[TopicPartition, int]) -> int:
        """Events below `end` that the services' groups have not committed yet."""
        total = 0
        for group in SERVICES:
            committed = await self._again(lambda group=group: self.admin.list_consumer_group_offsets(group))
            total += sum(max(0, end[tp] - meta.offset) for tp, meta in committed.items() if tp in end)
        return total

    async def leaders(self) -> dict[TopicPartition, int]:
        described = await self._again(lambda: self.admin.describe_topics([t.name for t in ALL_TOPICS]))
        return {TopicPartition(t["topic"], p["partition"]): p["leader"] for t in described for p in t["partitions"]}


class Outboxes:
    """One open connection to each service's database, to count outbox rows at a given instant."""

    def __init__(self, system: System):
        self.system = system
        self.connections: list[asyncpg.Connection] = []

    async def __aenter__(self) -> Outboxes:
        self.connections = [await asyncpg.connect(self.system.database(name)) for name in SERVICES]
        return self

    async def __aexit__(self, *exc: object) -> None:
        for conn in self.connections:
            await conn.close()

    async def pending(self, written_before=None) -> int:
        """Rows not yet published (and, if given, written before that instant)."""
        if written_before is None:
            counts = [await c.fetchval("SELECT count(*) FROM outbox WHERE state = 'pending'") for c in self.connections]
        else:
            counts = [await c.fetchval("SELECT count(*) FROM outbox WHERE state = 'pending' AND created_at <= $1",
                                       written_before) for c in self.connections]
        return sum(counts)


@dataclass
class Kill:
    """One SIGKILL of a Kafka node and what it met."""

    what: str
    node_id: int
    moment: str
    requests_in_flight: int = 0  # the season's requests sent and not yet answered when the node died
    pending_after: int = 0       # outbox rows written before the kill and still unsent just after it
    unconsumed_after: int = 0    # events not yet consumed once the groups' offsets could be read again
    led: dict[TopicPartition, int] = field(default_factory=dict)  # partitions the node led: end offset after the kill
    written_while_down: int = 0  # events written to those partitions (by their new leaders) before the restart
    quorum_leader_after: int | None = None  # the active controller once the quorum settled without the node
    restart: asyncio.Task | None = None

    def __str__(self) -> str:
        return (f"{self.what} (node {self.node_id}) killed at {self.moment!r} with {self.requests_in_flight} requests "
                f"in flight, {self.pending_after} outbox rows written before and unsent after, "
                f"{self.unconsumed_after} events unconsumed once offsets could be read again; it led {len(self.led)} "
                f"partitions, which took {self.written_while_down} events while it was down; "
                f"node {self.quorum_leader_after} led the quorum without it")


async def kill_when_work_is_in_flight(system: System, watch: ClusterWatch, outboxes: Outboxes,
                                     requests: RequestsInFlight, leaders: dict[TopicPartition, int], kill: Kill) -> None:
    """SIGKILL the node at the first instant, from now, when requests or outbox rows are on their way."""
    node = system.stack.kafka.node(kill.node_id)
    deadline = time.monotonic() + 30
    while not requests.held and time.monotonic() < deadline:
        if await outboxes.pending():
            break
    written_before = datetime.now(timezone.utc)
    kill.requests_in_flight = requests.held  # read and killed with no await in between: the same instant
    node.kill()
    kill.pending_after = await outboxes.pending(written_before=written_before)
    for _ in range(120):
        kill.quorum_leader_after = system.stack.kafka.quorum_leader()
        if kill.quorum_leader_after not in (None, kill.node_id):
            break
        await asyncio.sleep(0.25)
    # read once the partitions have new leaders and the groups' coordinator has moved
    end = await watch.end_offsets()
    kill.led = {tp: end.get(tp, 0) for tp, leader in leaders.items() if leader == kill.node_id}
    kill.unconsumed_after = await watch.unconsumed(end)


async def restart_later(system: System, watch: ClusterWatch, kill: Kill) -> None:
    now = await watch.end_offsets()
    kill.written_while_down = sum(now.get(tp, offset) - offset for tp, offset in kill.led.items())
    kill.restart = asyncio.create_task(asyncio.to_thread(system.stack.kafka.node(kill.node_id).start, timeout=180))


async def disturbed_season(system: System, kill: Kill, restart_at: str) -> tuple[SeasonOutcome, dict]:
    node = system.stack.kafka.node(kill.node_id)
    async with ClusterWatch(system.stack.kafka_bootstrap) as watch, Outboxes(system) as outboxes:
        leaders = await watch.leaders()  # who leads what, before any node is lost

        async def after_phase(moment: str) -> None:
            if moment == kill.moment:
                await kill_when_work_is_in_flight(system, watch, outboxes, played.limit, leaders, kill)
            elif moment == restart_at:
                await restart_later(system, watch, kill)

        played = season(system, after_phase)
        try:
            outcome, report = await play(system, played)
            await kill.restart
        finally:
            if kill.restart is not None and not kill.restart.done():
                await asyncio.wait([kill.restart])
            if node.process is None:  # whatever happened, the cluster gets its node back
                await asyncio.to_thread(node.start, timeout=180)
    print(kill)
    return outcome, report


@pytest.fixture(scope="module")
async def undisturbed(system) -> tuple[SeasonOutcome, dict]:
    """The season played once undisturbed on this cluster: the figures the disturbed ones must match,
    whichever of this module's tests runs first."""
    return await play(system)


async def test_an_undisturbed_season_on_three_brokers_loses_nothing_and_sets_the_figures_to_match(system, undisturbed):
    outcome, report = undisturbed
    await check_nothing_lost_nothing_twice(system, outcome, report)
    assert report["tickets_redeemed"] > 0 and report["reimbursed_cents"] > 0 and report["pending_cents"] > 0


async def test_a_season_during_which_a_broker_is_killed_and_later_restarted_ends_with_the_same_figures(system, undisturbed):
    cluster = system.stack.kafka
    async with ClusterWatch(system.stack.kafka_bootstrap) as watch:
        led = {}
        for node_id in (await watch.leaders()).values():
            led[node_id] = led.get(node_id, 0) + 1
    controller = cluster.quorum_leader()
    # a broker that is not the active controller (that is the next test), the one leading most partitions
    victim = max((n for n in led if n != controller), key=led.get)
    # killed while the counters' scans are in flight (half of them answered), back once the affiliates are
    # reimbursed: the other scans, their events, the statements and the batch happen on two brokers
    kill = Kill("a broker", victim, "redeem-midway")
    outcome, report = await disturbed_season(system, kill, restart_at="reimburse")
    assert kill.requests_in_flight + kill.pending_after + kill.unconsumed_after > 0, f"the kill met no work in flight: {kill}"
    assert kill.led and kill.written_while_down > 0, f"no write went through the new leaders: {kill}"
    await check_nothing_lost_nothing_twice(system, outcome, report)
    assert differences(report, undisturbed[1]) == {}


async def test_a_season_during_which_the_controller_quorum_leader_is_killed_and_later_restarted_ends_with_the_same_figures(system, undisturbed):
    leader = system.stack.kafka.quorum_leader()
    assert leader is not None
    # the same moment: scans in flight; the controllers elect another leader while they go on
    kill = Kill("the metadata quorum's leader", leader, "redeem-midway")
    outcome, report = await disturbed_season(system, kill, restart_at="reimburse")
    assert kill.quorum_leader_after not in (None, leader), "the controllers never elected a new leader"
    assert kill.requests_in_flight + kill.pending_after + kill.unconsumed_after > 0, f"the kill met no work in flight: {kill}"
    assert kill.led and kill.written_while_down > 0, f"no write went through the new leaders: {kill}"
    await check_nothing_lost_nothing_twice(system, outcome, report)
    assert differences(report, undisturbed[1]) == {}
