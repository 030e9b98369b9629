"""What tests use to run against the real stack: a private PostgreSQL and Kafka on free ports,
service processes they can start, kill, freeze and restart, tokens, a tap on Kafka topics, and the
barriers a test waits on before it checks that something did NOT happen:

- `TestStack.caught_up(group, topics)`: the consumer group has committed everything published on
  those topics before the call (its committed offsets reach the end offsets read at the call);
- `TestStack.read_to_end(topic)`: every record on the topic up to its end offsets read at the call,
  a complete read rather than "whatever arrived within N seconds".
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from carnet_contracts.envelope import Envelope, Event

from .config import SERVICE_PORTS, SERVICES, ensure_keys, local_token, service_environment, shared_secrets
from .kafka import KafkaCluster, KafkaNode, create_topics
from .offsets import GroupLag, consumer_lag, end_offsets, position_group_at_end, wait_caught_up
from .postgres import PostgresCluster, create_database
from .processes import StackError, free_port, stop_pid

_db_counter = itertools.count(1)

# Passwords hashed with test-sized argon2 settings: the same algorithm, a fraction of the memory and time.
FAST_PASSWORD_HASHING = {"CARNET_AFFILIATION_ARGON2_MEMORY_KIB": "8192", "CARNET_AFFILIATION_ARGON2_PARALLELISM": "1"}


async def poll_database(database_url: str, query: str, *args: Any, timeout: float = 60.0) -> Any:
    """Poll a service's own database until `query` gives a truthy value (its consumers caught up)."""
    import asyncpg

    conn = await asyncpg.connect(database_url)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = await conn.fetchval(query, *args)
            if value:
                return value
            await asyncio.sleep(0.1)
    finally:
        await conn.close()
    raise AssertionError(f"the service did not apply the events within {timeout} s: {query}")


class ServiceDatabase:
    """A service's own database as a test looks into it: wait until a query holds, read rows."""

    def __init__(self, database_url: str):
        self.database_url = database_url

    async def until(self, query: str, *args: Any, timeout: float = 60.0) -> Any:
        """Poll the service's own database until `query` gives a truthy value."""
        return await poll_database(self.database_url, query, *args, timeout=timeout)

    async def fetch(self, query: str, *args: Any) -> list[Any]:
        import asyncpg

        conn = await asyncpg.connect(self.database_url)
        try:
            return await conn.fetch(query, *args)
        finally:
            await conn.close()

    async def fetchval(self, query: str, *args: Any) -> Any:
        import asyncpg

        conn = await asyncpg.connect(self.database_url)
        try:
            return await conn.fetchval(query, *args)
        finally:
            await conn.close()


def _decoded(records: list[Any], *, raw: bool) -> list[Any]:
    """Kafka records as they are (`raw`), or their decoded envelopes, passing over what is not JSON."""
    if raw:
        return list(records)
    decoded = []
    for record in records:
        try:
            decoded.append(json.loads(record.value))
        except ValueError:
            continue
    return decoded


def _run_coroutine(coroutine: Any) -> Any:
    """Run a coroutine to completion from synchronous code, even when called inside a running loop."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


@dataclass
class ServiceProcess:
    """A service run as its own process (`python -m <module>`), as in production."""

    name: str
    module: str
    env: dict[str, str]
    port: int
    log_file: Path
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, wait: bool = True, timeout: float = 60.0) -> ServiceProcess:
        with open(self.log_file, "ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", self.module], env=self.env, stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )
        if wait:
            self.wait_ready(timeout=timeout)
        return self

    def wait_ready(self, *, timeout: float = 60.0, path: str = "/health/ready") -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise StackError(f"{self.name} exited with {self.process.returncode}: {self.tail()}")
            try:
                if httpx.get(self.url + path, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise StackError(f"{self.name} not ready within {timeout:.0f} s: {self.tail()}")

    def kill(self) -> None:
        """SIGKILL: a crash, nothing flushed."""
        if self.process is not None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
            self.process = None

    def stop(self) -> None:
        if self.process is not None:
            stop_pid(self.process.pid, timeout=10)
            self.process.wait(timeout=10)
            self.process = None

    def pause(self) -> None:
        """SIGSTOP: the process is frozen as it is (nothing it holds moves on) until `resume` or `kill`."""
        if self.process is not None:
            os.killpg(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        if self.process is not None:
            os.killpg(self.process.pid, signal.SIGCONT)

    @property
    def consumer_group(self) -> str:
        """The Kafka consumer group the process consumes as (the service's name unless overridden)."""
        return self.env.get(f"CARNET_{self.name.upper()}_CONSUMER_GROUP", self.name)

    @property
    def database_url(self) -> str:
        return self.env[f"CARNET_{self.name.upper()}_DATABASE_URL"]

    def restart(self, *, timeout: float = 60.0) -> ServiceProcess:
        self.stop()
        return self.start(timeout=timeout)

    def tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@dataclass
class FiveServices:
    """The five services started together by `TestStack.five_services`, each its own process and database."""

    processes: dict[str, ServiceProcess]

    @property
    def urls(self) -> dict[str, str]:
        return {name: process.url for name, process in self.processes.items()}

    def url(self, name: str) -> str:
        return self.processes[name].url

    def database(self, name: str) -> str:
        return self.processes[name].env[f"CARNET_{name.upper()}_DATABASE_URL"]

    def stop(self) -> None:
        for process in self.processes.values():
            process.stop()


@dataclass
class TestStack:
    """PostgreSQL and Kafka for one test session, with what tests need around them."""

    home: Path
    postgres: PostgresCluster | None
    kafka: KafkaNode | KafkaCluster | None
    server_database_url: str
    kafka_bootstrap: str
    services: list[ServiceProcess] = field(default_factory=list)

    @property
    def keys_dir(self) -> Path:
        return self.home / "keys"

    @property
    def secrets(self) -> dict[str, str]:
        return shared_secrets(self.home)

    # --- databases -------------------------------------------------------------------------

    async def create_database(self, prefix: str = "test") -> str:
        """A new database only this test uses; returns its URL."""
        name = f"{prefix}_{os.getpid()}_{next(_db_counter)}_{uuid.uuid4().hex[:6]}"
        return await create_database(self.server_database_url, name)

    # --- tokens ------------------------------------------------------------------------------

    def token(self, role: str, *, sub: str | None = None, school_id: str | None = None,
              affiliate_id: str | None = None, signer: str | None = None, ttl_seconds: int = 3600,
              audience: tuple[str, ...] | None = None, scope: str | None = None) -> str:
        """A token as the local signers make them: the key allowed to sign `role` (or the key named
        `signer`, to try one that may not), for every service unless `audience` says otherwise."""
        from carnet_runtime.auth import TokenSigner

        sub = sub or f"{role}-{uuid.uuid4().hex[:8]}"
        claims = {"school_id": school_id, "affiliate_id": affiliate_id, "scope": scope}
        if signer is None:
            return local_token(self.keys_dir, role, sub=sub, ttl_seconds=ttl_seconds,
                               audience=audience or SERVICES, **claims)
        return TokenSigner(self.keys_dir / f"{signer}.pem").sign(
            sub=sub, role=role, audience=audience or SERVICES, ttl_seconds=ttl_seconds, **claims)

    def auth(self, role: str, **claims: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(role, **claims)}"}

    # --- services ----------------------------------------------------------------------------

    def service(self, name: str, *, module: str | None = None, database_url: str | None = None,
                env: dict[str, str] | None = None, port: int | None = None, smtp_port: int = 1,
                own_consumer_group: bool = False) -> ServiceProcess:
        """A service process (not started) on its own free port and, unless given, its own new database.

        By default it consumes as the service's consumer group, shared with every process of that
        service the session ran before (a restart goes on where the killed process stopped). With
        `own_consumer_group`, it gets a group of its own, positioned at the topics' current end: it
        sees only what is published from now on, whatever earlier tests left unconsumed.
        """
        port = port or free_port()
        dsn = database_url or _run_coroutine(self.create_database(name))
        environment = service_environment(
            name, home=self.home, database_url=self.server_database_url, kafka_bootstrap=self.kafka_bootstrap,
            keys_dir=self.keys_dir, smtp_port=smtp_port, http_port=port, extra=env,
        )
        environment[f"CARNET_{name.upper()}_DATABASE_URL"] = dsn
        if own_consumer_group:
            from carnet_contracts.topics import ALL_TOPICS

            group = f"{name}-{uuid.uuid4().hex[:8]}"
            _run_coroutine(position_group_at_end(self.kafka_bootstrap, group, [t.name for t in ALL_TOPICS]))
            environment[f"CARNET_{name.upper()}_CONSUMER_GROUP"] = group
        log_file = self.home / "logs" / f"{name}-{port}.log"
        log_file.parent.mkdir(parents=True, exist_ok=True)
        process = ServiceProcess(name=name, module=module or name, env=environment, port=port, log_file=log_file)
        self.services.append(process)
        return process

    def five_services(self, *, smtp_port: int = 1, env: dict[str, dict[str, str]] | None = None,
                      timeout: float = 120.0) -> FiveServices:
        """The five services as their own processes, each with its own new database, started together
        and returned once every one is ready. The notification service sends to `smtp_port` and fetches
        ticket sheets from this wallet; the affiliation service hashes passwords with test-sized argon2
        settings; `env` adds settings by service name. Stop them with `.stop()` (the session's end does
        it too). Use from a synchronous fixture: creating the databases runs its own event loop."""
        env = env or {}
        wallet = self.service("wallet", smtp_port=smtp_port, env=env.get("wallet"))
        extra = {
            "affiliation": FAST_PASSWORD_HASHING | env.get("affiliation", {}),
            "notification": {"CARNET_WALLET_URL": wallet.url} | env.get("notification", {}),
        }
        processes = {name: wallet if name == "wallet" else
                     self.service(name, smtp_port=smtp_port, env=extra.get(name, env.get(name)))
                     for name in SERVICES}
        services = FiveServices(processes)
        for process in processes.values():
            process.start(wait=False)
        try:
            for process in processes.values():
                process.wait_ready(timeout=timeout)
        except BaseException:
            services.stop()
            raise
        return services

    # --- Kafka -------------------------------------------------------------------------------

    async def publish(self, event: Event, *, producer: str = "test", campaign_id: str | None = None,
                      event_id: uuid.UUID | None = None, raw: bytes | None = None,
                      topic: str | None = None) -> Envelope:
        """Publish an event (or raw bytes on the event's topic) as another service would."""
        from aiokafka import AIOKafkaProducer

        envelope = Envelope.wrap(event, producer=producer, campaign_id=campaign_id, event_id=event_id)
        producer_client = AIOKafkaProducer(bootstrap_servers=self.kafka_bootstrap, enable_idempotence=True)
        await producer_client.start()
        try:
            await producer_client.send_and_wait(
                topic or event.topic.name, raw if raw is not None else envelope.model_dump_json().encode(),
                key=event.key().encode(),
            )
        finally:
            await producer_client.stop()
        return envelope

    async def events(self, topic: str, *, until: Callable[[list[dict]], bool] | None = None,
                     timeout: float = 30.0, raw: bool = False) -> list[Any]:
        """Every message on `topic` from the beginning until `until(messages)` holds or `timeout` passes.

        Messages are decoded envelopes (dicts) unless `raw`, where they are aiokafka records.
        """
        from aiokafka import AIOKafkaConsumer

        consumer = AIOKafkaConsumer(
            topic, bootstrap_servers=self.kafka_bootstrap, group_id=None, auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        found: list[Any] = []
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                batches = await consumer.getmany(timeout_ms=500)
                for records in batches.values():
                    found += _decoded(records, raw=raw)
                if until is not None and until(found):
                    break
        finally:
            await consumer.stop()
        return found

    async def read_to_end(self, topic: str, *, raw: bool = False, timeout: float = 60.0) -> list[Any]:
        """Every record on `topic`, from the beginning up to the end offsets read at the call: a
        complete read (no time window), decoded envelopes unless `raw`."""
        from aiokafka import AIOKafkaConsumer

        ends = {tp: end for tp, end in (await end_offsets(self.kafka_bootstrap, [topic])).items() if end > 0}
        if not ends:
            return []
        consumer = AIOKafkaConsumer(bootstrap_servers=self.kafka_bootstrap, enable_auto_commit=False)
        await consumer.start()
        found: list[Any] = []
        deadline = time.monotonic() + timeout
        try:
            consumer.assign(list(ends))
            await consumer.seek_to_beginning(*ends)
            while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
                if time.monotonic() > deadline:
                    raise AssertionError(f"could not read {topic} up to its end offsets within {timeout} s")
                batches = await consumer.getmany(timeout_ms=500)
                for tp, records in batches.items():
                    found += _decoded([record for record in records if record.offset < ends[tp]], raw=raw)
        finally:
            await consumer.stop()
        return found

    async def caught_up(self, group: str, topics: list[str], *, timeout: float = 60.0) -> None:
        """Wait until consumer `group` has committed everything published on `topics` before the call."""
        await wait_caught_up(self.kafka_bootstrap, group, topics, timeout=timeout)

    async def lag(self, group: str, topics: list[str]) -> int:
        """Records of `topics` that `group` has not committed yet."""
        return await consumer_lag(self.kafka_bootstrap, group, topics)

    async def wait_for_event(self, topic: str, predicate: Callable[[dict], bool], *, timeout: float = 30.0) -> dict:
        found = await self.events(topic, until=lambda msgs: any(predicate(m) for m in msgs), timeout=timeout)
        for message in found:
            if predicate(message):
                return message
        raise AssertionError(f"no matching event on {topic} within {timeout} s ({len(found)} seen)")

    def stop(self) -> None:
        for service in self.services:
            try:
                service.stop()
            except Exception:
                pass
        if self.kafka is not None:
            self.kafka.stop()
        if self.postgres is not None:
            self.postgres.stop()


def start_test_stack() -> TestStack:
    """PostgreSQL and Kafka on free ports in a fresh folder, or the ones named by
    CARNET_TEST_DATABASE_URL / CARNET_TEST_KAFKA_BOOTSTRAP (tests still create their own databases)."""
    home = Path(tempfile.mkdtemp(prefix="carnet-test-"))
    ensure_keys(home / "keys")
    shared_secrets(home)
    postgres = kafka = None
    server_url = os.environ.get("CARNET_TEST_DATABASE_URL")
    if not server_url:
        postgres = PostgresCluster(home / "postgres" / "data", port=free_port(), fast_and_unsafe=True)
        postgres.start()
        server_url = postgres.url
    bootstrap = os.environ.get("CARNET_TEST_KAFKA_BOOTSTRAP")
    if not bootstrap:
        kafka = KafkaNode(home / "kafka", port=free_port(), controller_port=free_port())
        try:
            kafka.start()
        except BaseException:
            if postgres:
                postgres.stop()
            raise
        bootstrap = kafka.bootstrap
    asyncio.run(create_topics(bootstrap))
    return TestStack(home=home, postgres=postgres, kafka=kafka, server_database_url=server_url, kafka_bootstrap=bootstrap)


def start_stack_with_own_broker(stack: TestStack) -> TestStack:
    """The session's PostgreSQL with a Kafka broker of its own (topics created), for the tests that kill
    the broker: the session's stays up for the services other tests keep running."""
    kafka = KafkaNode(stack.home / f"kafka-{uuid.uuid4().hex[:6]}", port=free_port(), controller_port=free_port())
    kafka.start()
    try:
        asyncio.run(create_topics(kafka.bootstrap))
    except BaseException:
        kafka.stop()
        raise
    return TestStack(home=stack.home, postgres=None, kafka=kafka, server_database_url=stack.server_database_url,
                     kafka_bootstrap=kafka.bootstrap)


def start_three_broker_stack(stack: TestStack) -> TestStack:
    """The session's PostgreSQL with a Kafka cluster of three brokers of its own (KRaft, replication 3,
    min.insync.replicas 2, as in production), for the tests where a broker must fail."""
    cluster = KafkaCluster(stack.home / "kafka-3", ports=[free_port() for _ in range(3)],
                           controller_ports=[free_port() for _ in range(3)])
    cluster.start()
    try:
        asyncio.run(create_topics(cluster.bootstrap, replication=cluster.replication))
    except BaseException:
        cluster.stop()
        raise
    return TestStack(home=stack.home, postgres=None, kafka=cluster, server_database_url=stack.server_database_url,
                     kafka_bootstrap=cluster.bootstrap)


__all__ = ["FAST_PASSWORD_HASHING", "SERVICE_PORTS", "FiveServices", "GroupLag", "ServiceDatabase", "ServiceProcess",
           "TestStack", "consumer_lag", "end_offsets", "poll_database", "start_stack_with_own_broker", "start_test_stack",
           "start_three_broker_stack",
           "wait_caught_up"]
