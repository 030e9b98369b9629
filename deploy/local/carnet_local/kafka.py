"""The real Apache Kafka broker, one node in KRaft mode (broker and controller), run with `java`.

Its jars come from Maven Central through deploy/local/pom.xml; storage is formatted on first start.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

from .processes import StackError, port_accepts, require_free_port, spawn, stop_pid, wait_until

DEPLOY_LOCAL = Path(__file__).resolve().parent.parent
POM = DEPLOY_LOCAL / "pom.xml"
LOG4J_CONFIG = DEPLOY_LOCAL / "log4j2.yaml"
LIB_DIR = DEPLOY_LOCAL / "lib"
HEAP = "-Xmx768m"  # one broker on a 2-core machine beside PostgreSQL and five services


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
    data_dir: Path
    port: int = 9092
    controller_port: int = 9093
    process: subprocess.Popen | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "kafka.log"

    def _properties(self) -> Path:
        path = self.data_dir / "server.properties"
        path.write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    "node.id=1",
                    f"controller.quorum.bootstrap.servers=127.0.0.1:{self.controller_port}",
                    f"listeners=PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
                    f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}",
                    "controller.listener.names=CONTROLLER",
                    "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                    f"log.dirs={self.data_dir / 'logs'}",
                    "num.partitions=3",
                    "offsets.topic.replication.factor=1",
                    "offsets.topic.num.partitions=6",
                    "transaction.state.log.replication.factor=1",
                    "transaction.state.log.min.isr=1",
                    "share.coordinator.state.topic.replication.factor=1",
                    "share.coordinator.state.topic.min.isr=1",
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
            "java", HEAP, "-Xms256m", "-XX:+UseG1GC",
            f"-Dlog4j2.configurationFile={LOG4J_CONFIG}", "-cp", f"{ensure_jars()}/*", main, *args,
        ]

    def format_storage(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        properties = self._properties()
        if (self.data_dir / "logs" / "meta.properties").exists():
            return
        cluster_id = _cluster_id()
        result = subprocess.run(
            # `--cluster-id=` form: a random id may begin with "-", which the option parser would misread.
            self._java("kafka.tools.StorageTool", "format", f"--cluster-id={cluster_id}", "-c", str(properties),
                       "--standalone"),
            capture_output=True, text=True, timeout=120,
        )
        if result.returncode != 0:
            raise StackError(f"could not format Kafka storage in {self.data_dir}: {result.stderr.strip()[-200:]}")

    def start(self, *, timeout: float = 60.0) -> None:
        require_free_port(self.port, "Kafka")
        require_free_port(self.controller_port, "Kafka's controller")
        self.format_storage()
        self.process = spawn(self._java("kafka.Kafka", str(self._properties())), log_file=self.log_file)
        wait_until(lambda: port_accepts(self.port) and broker_answers(self.bootstrap), timeout=timeout,
                   what="Kafka", process=self.process, log_file=self.log_file, interval=0.5)

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


async def create_topics(bootstrap: str, *, replication: int = 1) -> None:
    """Every topic of the contracts and its dead-letter topic (idempotent)."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic
    from aiokafka.errors import TopicAlreadyExistsError

    from carnet_contracts.topics import ALL_TOPICS

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = []
        for topic in ALL_TOPICS:
            if topic.name not in existing:
                wanted.append(NewTopic(topic.name, topic.partitions, replication))
            if topic.dead_letter_name not in existing:
                wanted.append(NewTopic(topic.dead_letter_name, 1, replication))
        if wanted:
            try:
                await admin.create_topics(wanted)
            except TopicAlreadyExistsError:
                pass
    finally:
        await admin.close()
