"""The five images, built from deploy/docker/Dockerfile as ops build them (`make images`), each started
the way Kubernetes starts it (the init container's migrations, then the image's own entrypoint) on the
test session's PostgreSQL and Kafka: each migrates its own database, gets ready, and runs as uid 10001.

Images already built from this tree (`make images`, which CI runs first) are used as they are; any
other is built here. Each image gets its own database and consumer group, so it touches nothing else.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
import pytest

from carnet_local import images
from carnet_local.config import SERVICES, service_environment
from carnet_local.processes import free_port

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]  # may have to build the images first

IMAGE_UID = 10001  # the USER of the Dockerfile, and the runAsUser of the pods


@dataclass
class Started:
    service: str
    ref: str
    size: str
    database_url: str
    migrate_exit: int | None = None
    ready_after: float | None = None
    failure: str | None = None
    uids: set[int] = field(default_factory=set)
    commands: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def built_images() -> dict[str, str]:
    reason = images.why_not_buildable()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"CI must build and run the images, but here {reason}")
        pytest.skip(reason)
    stale = [name for name in SERVICES if not images.current(name)]
    if stale:
        print(f"\nbuilding the images not built from this tree: {', '.join(stale)}")
        images.build_all(stale, say=print)
    return {name: images.image_ref(name, "local") for name in SERVICES}


def _private_home(stack, directory: Path) -> Path:
    """The session's keys and shared secrets, readable by the image's user, at a path that is the same
    inside the container (mounted there) and outside."""
    shutil.copytree(stack.home / "keys", directory / "keys")
    shutil.copy2(stack.home / "secrets.env", directory / "secrets.env")
    for path in [directory, *directory.rglob("*")]:
        os.chown(path, IMAGE_UID, IMAGE_UID)
    return directory


def _environment(stack, name: str, home: Path, database_url: str, port: int) -> dict[str, str]:
    """What the service gets from the stack (carnet_local.config), with its own database and consumer
    group; only the service's settings go in (the host's PATH and virtual environment stay out)."""
    env = service_environment(
        name, home=home, database_url=stack.server_database_url, kafka_bootstrap=stack.kafka_bootstrap,
        keys_dir=home / "keys", smtp_port=1, http_port=port,
        extra={f"CARNET_{name.upper()}_DATABASE_URL": database_url,
               f"CARNET_{name.upper()}_CONSUMER_GROUP": f"image-{name}-{uuid.uuid4().hex[:8]}"})
    return {key: value for key, value in env.items() if key.startswith(("CARNET_", "OTEL_"))}


def _ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _start(stack, name: str, ref: str, home: Path, log_dir: Path) -> tuple[Started, images.ImageContainer]:
    database_url = asyncio.run(stack.create_database(f"image_{name}"))
    started = Started(name, ref, images.size(ref), database_url)
    port = free_port()
    container = images.ImageContainer(ref, _environment(stack, name, home, database_url, port), {home: home},
                                      log_dir / f"{name}.log")
    container.create()
    # as the pod: the init container first, then the image's entrypoint
    started.migrate_exit = container.run(["python", "-m", "carnet_runtime.migrate", name]).returncode
    if started.migrate_exit != 0:
        started.failure = f"migrations exited with {started.migrate_exit}:\n{container.tail()}"
        return started, container
    begin = time.monotonic()
    process = container.start()
    deadline = begin + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            started.failure = f"the entrypoint exited with {process.returncode}:\n{container.tail()}"
            return started, container
        if _ready(port):
            started.ready_after = time.monotonic() - begin
            inside = container.processes()
            started.commands = [" ".join(p.cmdline()) for p in inside]
            started.uids = {uid for p in inside for uid in p.uids()}
            return started, container
        time.sleep(0.3)
    started.failure = f"not ready within 120 s:\n{container.tail()}"
    return started, container


@pytest.fixture(scope="module")
def started_images(stack, built_images, tmp_path_factory) -> dict[str, Started]:
    home = _private_home(stack, tmp_path_factory.mktemp("image-home"))
    log_dir = tmp_path_factory.mktemp("image-logs")
    with ThreadPoolExecutor(len(built_images)) as pool:
        results = list(pool.map(lambda item: _start(stack, *item, home, log_dir), built_images.items()))
    try:
        print()
        for started, _ in results:
            state = f"ready in {started.ready_after:.1f} s" if started.ready_after is not None else "NOT READY"
            print(f"{started.ref}: {started.size}, {state}, uids {sorted(started.uids)}")
        yield {started.service: started for started, _ in results}
    finally:
        with ThreadPoolExecutor(len(results)) as pool:
            list(pool.map(lambda result: result[1].stop(), results))


@pytest.mark.parametrize("service", SERVICES)
async def test_each_image_migrates_its_own_database_and_gets_ready_on_the_stack(service, started_images):
    started = started_images[service]
    assert started.failure is None, started.failure
    conn = await asyncpg.connect(started.database_url)
    try:
        applied = await conn.fetchval("SELECT count(*) FROM schema_migrations WHERE scope = $1", service)
    finally:
        await conn.close()
    assert applied >= 1


@pytest.mark.parametrize("service", SERVICES)
def test_each_image_runs_as_its_unprivileged_user(service, started_images):
    started = started_images[service]
    assert started.failure is None, started.failure
    assert f"python -m {service}" in started.commands  # the image's entrypoint, as it was started
    assert started.uids == {IMAGE_UID}  # real, effective and saved uid of every process in the container
