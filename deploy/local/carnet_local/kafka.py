"""The real Apache Kafka broker in KRaft mode, run with `java`: one node (broker and controller), or a
cluster of three such nodes whose controllers form the metadata quorum, with replication 3 and
min.insync.replicas 2 as in production.

Its jars come from Maven Central through deploy/local/pom.xml; storage is formatted on first start.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from .processes import StackError, port_accepts, require_free_port, spawn, stop_pid, wait_until

DEPLOY_LOCAL = Path(__file__).resolve().parent.parent
POM = DEPLOY_LOCAL / "pom.xml"
LOG4J_CONFIG = DEPLOY_LOCAL / "log4j2.yaml"
LIB_DIR = DEPLOY_LOCAL / "lib"
HEAP = "-Xmx768m"  # one broker on a 2-core machine beside PostgreSQL and five services
CLUSTER_HEAP = "-Xmx512m"  # each of three


def ensure_jars() -> Path:
    """Resolve the broker's jars with Maven on first use (cached in ~/.m2 and deploy/local/lib)."""
    if LIB_DIR.is_dir() and any(LIB_DIR.glob("kafka_2.13-*.jar")):
        return LIB_DIR
    if shutil.which("java") is None:
        raise StackError("Java is missing: Kafka needs a JDK 17 or newer on the PATH (apt-get install openjdk-17-jre-headless)")
    if shutil.which("mvn") is None:
        raise StackError("Maven is missing: it fetches the Kafka jars (apt-get install maven)")
    result = subprocess.run(
        ["mvn", "-q", "-B", "-f", str(POM), "dependency:copy-dependencies"],
        capture_output=True, text=True, timeout=900,
    )
    if result.returncode != 0 or not any(LIB_DIR.glob("kafka_2.13-*.jar")):
        last = (result.stdout + result.stderr).strip().splitlines()[-1:] or ["no output"]
        raise StackError(f"could not download the Kafka jars from Maven Central: {last[0][:200]}")
    return LIB_DIR


@dataclass
class KafkaNode:
    """One KRaft node, broker and controller. Alone it is its own quorum (`voters` None); in a cluster,
    `voters` names every controller ("1@127.0.0.1:port,...") and all nodes share `cluster_id`."""

    data_dir: Path
    port: int = 9092
    controller_port: int = 9093
    process: subprocess.Popen | None = None
    node_id: int = 1
    voters: str | None = None
    cluster_id: str | None = None
    replication: int = 1
    heap: str = HEAP

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "kafka.log"

    def _properties(self) -> Path:
        path = self.data_dir / "server.properties"
        quorum = (f"controller.quorum.voters={self.voters}" if self.voters
                  else f"controller.quorum.bootstrap.servers=127.0.0.1:{self.controller_port}")
        in_sync = min(2, self.replication)  # as in production: 3 replicas, 2 in sync to accept a write
        path.write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    f"node.id={self.node_id}",
                    quorum,
                    f"listeners=PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
                    f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}",
                    "controller.listener.names=CONTROLLER",
                    "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                    f"log.dirs={self.data_dir / 'logs'}",
                    "num.partitions=3",
                    f"default.replication.factor={self.replication}",
                    f"min.insync.replicas={in_sync}",
                    "unclean.leader.election.enable=false",
                    f"offsets.topic.replication.factor={self.replication}",
                    "offsets.topic.num.partitions=6",
                    f"transaction.state.log.replication.factor={self.replication}",
                    f"transaction.state.log.min.isr={in_sync}",
                    f"share.coordinator.state.topic.replication.factor={self.replication}",
                    f"share.coordinator.state.topic.min.isr={in_sync}",
                    "group.initial.rebalance.delay.ms=0",
                    "auto.create.topics.enable=true",
                    "log.retention.hours=168",
                    "",
                ]
            )
        )
        return path

    def _java(self, main: str, *args: str) -> list[str]:
        return [
            "java", self.heap, "-Xms256m", "-XX:+UseG1GC",
            f"-Dlog4j2.configurationFile={LOG4J_CONFIG}", "-cp", f"{ensure_jars()}/*", main, *args,
        ]

    def format_storage(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        properties = self._properties()
        if (self.data_dir / "logs" / "meta.properties").exists():
            return
        # a lone node bootstraps its own quorum; a cluster's voters are fixed in its properties
        quorum = [] if self.voters else ["--standalone"]
        result = subprocess.run(
            # `--cluster-id=` form: a random id may begin with "-", which the option parser would misread.
            self._java("kafka.tools.StorageTool", "format", f"--cluster-id={self.cluster_id or _cluster_id()}",
                       "-c", str(properties), *quorum),
            capture_output=True, text=True, timeout=120,
        )
        if result.returncode != 0:
            raise StackError(f"could not format Kafka storage in {self.data_dir}: {result.stderr.strip()[-200:]}")

    def spawn(self) -> None:
        """Start the process without waiting (a cluster's nodes must all be started before any can serve)."""
        require_free_port(self.port, "Kafka")
        require_free_port(self.controller_port, "Kafka's controller")
        self.format_storage()
        self.process = spawn(self._java("kafka.Kafka", str(self._properties())), log_file=self.log_file)

    def wait_ready(self, *, timeout: float = 60.0) -> None:
        wait_until(lambda: port_accepts(self.port) and broker_answers(self.bootstrap), timeout=timeout,
                   what=f"Kafka node {self.node_id}", process=self.process, log_file=self.log_file, interval=0.5)

    def start(self, *, timeout: float = 60.0) -> None:
        self.spawn()
        self.wait_ready(timeout=timeout)

    def quorum_state(self) -> dict:
        """What this node last recorded of the metadata quorum: {"leaderId": ..., "leaderEpoch": ...}."""
        path = self.data_dir / "logs" / "__cluster_metadata-0" / "quorum-state"
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            return {}

    def stop(self) -> None:
        if self.process is not None:
            stop_pid(self.process.pid)
            self.process.wait(timeout=5)
            self.process = None

    def kill(self) -> None:
        """SIGKILL, as a crash would (fault tests)."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None


@dataclass
class KafkaCluster:
    """Three KRaft nodes on loopback, each broker and controller, as production runs them: topics
    replicated three times with two in sync. Any node can be killed and restarted on its own."""

    data_dir: Path
    ports: list[int]
    controller_ports: list[int]
    nodes: list[KafkaNode] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.nodes:
            cluster_id_file = self.data_dir / "cluster.id"
            self.data_dir.mkdir(parents=True, exist_ok=True)
            if not cluster_id_file.exists():
                cluster_id_file.write_text(_cluster_id())
            cluster_id = cluster_id_file.read_text().strip()
            voters = ",".join(f"{i + 1}@127.0.0.1:{port}" for i, port in enumerate(self.controller_ports))
            self.nodes = [
                KafkaNode(self.data_dir / f"node-{i + 1}", port=port, controller_port=controller, node_id=i + 1,
                          voters=voters, cluster_id=cluster_id, replication=len(self.ports), heap=CLUSTER_HEAP)
                for i, (port, controller) in enumerate(zip(self.ports, self.controller_ports))]

    @property
    def bootstrap(self) -> str:
        return ",".join(node.bootstrap for node in self.nodes)

    @property
    def replication(self) -> int:
        return len(self.nodes)

    @property
    def process(self) -> subprocess.Popen | None:
        """The first node's process (what the local stack records for `carnet stack status`)."""
        return self.nodes[0].process

    def start(self, *, timeout: float = 120.0) -> None:
        try:
            for node in self.nodes:
                node.spawn()
            for node in self.nodes:
                node.wait_ready(timeout=timeout)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    def node(self, node_id: int) -> KafkaNode:
        return self.nodes[node_id - 1]

    def quorum_leader(self) -> int | None:
        """The node id of the metadata quorum's leader (the active controller), as a majority of the
        running nodes last recorded it; None while an election is under way."""
        votes: dict[tuple[int, int], int] = {}
        for node in self.nodes:
            if node.process is None:
                continue
            state = node.quorum_state()
            if state.get("leaderId", -1) >= 0:
                key = (state["leaderEpoch"], state["leaderId"])
                votes[key] = votes.get(key, 0) + 1
        if not votes:
            return None
        (epoch, leader), count = max(votes.items())
        return leader if count * 2 > len(self.nodes) else None


def _cluster_id() -> str:
    import base64

    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


def broker_answers(bootstrap: str) -> bool:
    """True once the broker serves metadata (the port alone opens before it can)."""
    from aiokafka.admin import AIOKafkaAdminClient

    async def probe() -> bool:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=3000)
        try:
            await admin.start()
            await admin.list_topics()
            return True
        except Exception:
            return False
        finally:
            await admin.close()

    return asyncio.run(probe())


# How long Kafka keeps what the services write, the same here as in deploy/k8s/base/kafka/topics.yaml (the
# services' privacy.toml inventories say so): 7 days on a topic, 28 on a dead-letter topic, where a message
# waits for someone to read it and replay it (deploy/RUNBOOK.md). A campaign's purge deletes sooner.
TOPIC_RETENTION_MS = 7 * 24 * 3600 * 1000
DEAD_LETTER_RETENTION_MS = 28 * 24 * 3600 * 1000


def topic_configs(*, dead_letter: bool) -> dict[str, str]:
    """The per-topic configuration every Carnet topic is created with (locally and by Strimzi)."""
    retention = DEAD_LETTER_RETENTION_MS if dead_letter else TOPIC_RETENTION_MS
    return {"retention.ms": str(retention), "cleanup.policy": "delete"}


async def create_topics(bootstrap: str, *, replication: int = 1) -> None:
    """Every topic of the contracts and its dead-letter topic (idempotent), each replicated
    `replication` times (min.insync.replicas is the brokers' default), with the retention of
    `topic_configs`; a topic that exists with another retention (a stack made before) is given it."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
    from aiokafka.errors import TopicAlreadyExistsError

    from carnet_contracts.topics import ALL_TOPICS

    wanted = {}
    for topic in ALL_TOPICS:
        wanted[topic.name] = (topic.partitions, topic_configs(dead_letter=False))
        wanted[topic.dead_letter_name] = (1, topic_configs(dead_letter=True))
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [NewTopic(name, partitions, replication, topic_configs=configs)
                   for name, (partitions, configs) in wanted.items() if name not in existing]
        if missing:
            try:
                await admin.create_topics(missing)
            except TopicAlreadyExistsError:
                pass
        present = [name for name in wanted if name in existing]
        if present:
            current = await topic_config_values(admin, present, ["retention.ms", "cleanup.policy"])
            stale = [ConfigResource(ConfigResourceType.TOPIC, name, configs=wanted[name][1])
                     for name in present if current.get(name) != wanted[name][1]]
            if stale:
                for response in await admin.alter_configs(stale):
                    for error_code, error_message, _, name in response.resources:
                        if error_code:
                            raise StackError(f"could not set the retention of Kafka topic {name}: {error_message}")
    finally:
        await admin.close()


async def topic_config_values(admin, topics: list[str], keys: list[str]) -> dict[str, dict[str, str]]:
    """{topic: {key: value}} as the brokers report them (a topic's own value, or the broker's default)."""
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    responses = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, t, configs=dict.fromkeys(keys))
                                              for t in topics])
    values: dict[str, dict[str, str]] = {}
    for response in responses:
        for resource in response.resources:
            error_code, _, _, name, entries = resource[:5]
            if not error_code:
                values[name] = {entry[0]: entry[1] for entry in entries}
    return values
