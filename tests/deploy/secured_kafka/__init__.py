"""A real Kafka broker that authenticates and authorizes as Strimzi's does, for the tests that apply the
manifests' KafkaUser ACLs: SCRAM-SHA-512 on a client listener, Kafka's StandardAuthorizer (KRaft) with no
access where no ACL allows it. A plain listener on loopback, whose anonymous principal is a super user,
is the operator's door (topic creation, ACLs), as Strimzi's operators have theirs.

The ACLs are created with Kafka's own Admin client (CreateAcls.java, run from the broker's jars):
aiokafka speaks no version of CreateAcls that Kafka 4 still accepts.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from carnet_local.kafka import LOG4J_CONFIG, KafkaNode, _cluster_id, ensure_jars
from carnet_local.processes import StackError, require_free_port

HERE = Path(__file__).resolve().parent
MECHANISM = "SCRAM-SHA-512"
STRIMZI_RESOURCE_TYPES = {"topic": "TOPIC", "group": "GROUP", "cluster": "CLUSTER", "transactionalId": "TRANSACTIONAL_ID"}
STRIMZI_PATTERN_TYPES = {"literal": "LITERAL", "prefix": "PREFIXED"}


@dataclass
class SecuredKafkaNode(KafkaNode):
    sasl_port: int = 0
    users: dict[str, str] = field(default_factory=dict)  # SCRAM-SHA-512 username -> password

    @property
    def sasl_bootstrap(self) -> str:
        return f"127.0.0.1:{self.sasl_port}"

    def client(self, username: str) -> dict:
        """aiokafka keyword arguments to connect as one user, as the services do in the cluster."""
        return {"bootstrap_servers": self.sasl_bootstrap, "security_protocol": "SASL_PLAINTEXT",
                "sasl_mechanism": MECHANISM, "sasl_plain_username": username,
                "sasl_plain_password": self.users[username]}

    def _properties(self) -> Path:
        path = super()._properties()
        plain, sasl, controller = (f"127.0.0.1:{p}" for p in (self.port, self.sasl_port, self.controller_port))
        replaced = {
            "listeners": f"PLAINTEXT://{plain},SASL_PLAINTEXT://{sasl},CONTROLLER://{controller}",
            "advertised.listeners": f"PLAINTEXT://{plain},SASL_PLAINTEXT://{sasl}",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT",
            "auto.create.topics.enable": "false",
        }
        lines = [line for line in path.read_text().splitlines() if line.split("=", 1)[0] not in replaced]
        lines += [f"{key}={value}" for key, value in replaced.items()] + [
            "inter.broker.listener.name=PLAINTEXT",
            f"sasl.enabled.mechanisms={MECHANISM}",
            f"listener.name.sasl_plaintext.{MECHANISM.lower()}.sasl.jaas.config="
            "org.apache.kafka.common.security.scram.ScramLoginModule required;",
            "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "allow.everyone.if.no.acl.found=false",
            "super.users=User:ANONYMOUS",
            "",
        ]
        path.write_text("\n".join(lines))
        return path

    def format_storage(self) -> None:
        """Format with every user's SCRAM credentials, as Strimzi's User Operator would have set them."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        scram = [arg for user, password in self.users.items()
                 for arg in ("--add-scram", f"{MECHANISM}=[name={user},password={password}]")]
        result = subprocess.run(
            self._java("kafka.tools.StorageTool", "format", f"--cluster-id={_cluster_id()}",
                       "-c", str(self._properties()), "--standalone", *scram),
            capture_output=True, text=True, timeout=120,
        )
        if result.returncode != 0:
            raise StackError(f"could not format Kafka storage in {self.data_dir}: {result.stderr.strip()[-300:]}")

    def spawn(self) -> None:
        require_free_port(self.sasl_port, "Kafka's SASL listener")
        super().spawn()

    def apply_acls(self, kafka_users: Iterable[dict]) -> int:
        """Create the ACLs of Strimzi KafkaUser resources (`simple` authorization) for their users."""
        lines = [binding for user in kafka_users for binding in acl_bindings(user)]
        result = subprocess.run(
            ["java", f"-Dlog4j2.configurationFile={LOG4J_CONFIG}", "-cp", f"{ensure_jars()}/*",
             str(HERE / "CreateAcls.java"), self.bootstrap],
            input="\n".join(lines), capture_output=True, text=True, timeout=300,
        )
        if result.returncode != 0:
            raise StackError(f"could not create the ACLs: {result.stderr.strip()[-500:]}")
        return int(result.stdout.strip().splitlines()[-1])


def acl_bindings(kafka_user: dict) -> list[str]:
    """A KafkaUser's ACLs as Kafka's bindings (what Strimzi's User Operator creates), one line each."""
    principal = f"User:{kafka_user['metadata']['name']}"
    lines = []
    for rule in kafka_user["spec"]["authorization"]["acls"]:
        resource = rule["resource"]
        kind = STRIMZI_RESOURCE_TYPES[resource["type"]]
        name = "kafka-cluster" if kind == "CLUSTER" else resource["name"]
        pattern = STRIMZI_PATTERN_TYPES[resource.get("patternType", "literal")]
        for operation in rule["operations"]:
            snake = re.sub(r"(?<!^)(?=[A-Z])", "_", operation).upper()  # IdempotentWrite -> IDEMPOTENT_WRITE
            lines.append("\t".join((principal, kind, name, pattern, snake, rule.get("type", "allow").upper(),
                                    rule.get("host", "*"))))
    return lines
