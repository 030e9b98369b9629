"""One set of the five services for every must-show test of issues 13, 14 and 15, started once.

The services run as their own processes on the session's PostgreSQL (each its own new database) and
Kafka, on topics of their own (every topic name prefixed, through the contracts' CARNET_TOPIC_*
settings): the campaign's purge deletes Kafka records only once every consumer group has committed
past them (carnet_runtime.purge), and the groups that earlier tests of the same session left on the
usual topics would hold the season's records there for ever. Each test sets up its own campaign,
schools, families and affiliates, so that any test runs alone and in any order.

The fixture lives for the session (not the package): with a random test order, modules of other
packages come between these ones, and a package fixture would start the five services again each time.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from carnet_contracts.topics import ALL_TOPICS
from carnet_local.config import SERVICES
from carnet_local.processes import free_port
from carnet_local.smtp import start_capture
from carnet_local.testing import TestStack

from .driver import Carnet

# Work the services do on a timer, sized for a test: the Kafka records of a purged season go within
# a second or two; the weekly digests and the purge's own check run only when a test asks for them.
TIMERS = {
    "enrolment": {"DIGEST_CHECK_SECONDS": "86400", "PURGE_CHECK_SECONDS": "86400"},
}


def _environment(run: str, topic_names: dict[str, str]) -> dict[str, dict[str, str]]:
    env: dict[str, dict[str, str]] = {}
    for name in SERVICES:
        prefix = f"CARNET_{name.upper()}_"
        env[name] = {**topic_names, f"{prefix}CONSUMER_GROUP": f"musts-{run}-{name}",
                     f"{prefix}KAFKA_PURGE_INTERVAL_SECONDS": "1",
                     **{prefix + key: value for key, value in TIMERS.get(name, {}).items()}}
    return env


async def _create_topics(bootstrap: str, names: list[str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        partitions = {t.name: t.partitions for t in ALL_TOPICS}
        await admin.create_topics([NewTopic(name, partitions.get(name, 1), 1) for name in names])
    finally:
        await admin.close()


@pytest.fixture(scope="session")
def carnet(stack: TestStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Carnet]:
    run = uuid.uuid4().hex[:6]
    topic_names = {t.env_var: f"musts{run}.{t.default_name}" for t in ALL_TOPICS}
    started = time.monotonic()
    names = list(topic_names.values())
    asyncio.run(_create_topics(stack.kafka_bootstrap, names + [f"{n}.dlt" for n in names]))
    mail_dir = tmp_path_factory.mktemp("musts") / "mail"
    capture = start_capture(mail_dir, smtp_port := free_port(), smtputf8=True)
    try:
        env = _environment(run, topic_names)
        services = stack.five_services(smtp_port=smtp_port, env=env)
        try:
            groups = {name: env[name][f"CARNET_{name.upper()}_CONSUMER_GROUP"] for name in SERVICES}
            print(f"\nmusts: the five services ready in {time.monotonic() - started:.0f} s, on topics musts{run}.*")
            yield Carnet(stack, services, mail_dir, groups, run, topic_names)
        finally:
            services.stop()
    finally:
        capture.stop()
