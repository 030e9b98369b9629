"""The five services on the session's PostgreSQL and Kafka, once for the security tests, with two of
every tenant made through their APIs, the OpenAPI document each one serves, and its operations sorted
by who may call them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from carnet_local.processes import free_port
from carnet_local.smtp import start_capture
from carnet_local.testing import FiveServices, TestStack

from .catalogue import Catalogue, sort_operations
from .forged import Forger
from .operations import operations
from .world import World, build_world


@dataclass
class Carnet:
    stack: TestStack
    services: FiveServices
    mail_dir: Path
    world: World
    documents: dict[str, dict[str, Any]]
    catalogue: Catalogue
    forger: Forger


@pytest.fixture(scope="package")
def carnet(stack: TestStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Carnet]:
    mail_dir = tmp_path_factory.mktemp("security-mail")
    capture = start_capture(mail_dir, port := free_port())
    try:
        started = time.monotonic()
        services = stack.five_services(smtp_port=port)
        ready = time.monotonic()
        try:
            world = asyncio.run(build_world(services, stack.keys_dir, mail_dir, stack.kafka_bootstrap))
            documents = {name: httpx.get(f"{url}/openapi.json", timeout=10).json() for name, url in services.urls.items()}
            ops = [op for name, document in documents.items() for op in operations(name, document)]
            catalogue = asyncio.run(sort_operations(ops, services.urls, world.a, stack.token))
            print(f"\nfive services ready in {ready - started:.0f} s; two of every tenant made through the APIs "
                  f"in {time.monotonic() - ready:.0f} s")
            yield Carnet(stack, services, mail_dir, world, documents, catalogue, Forger(stack.keys_dir))
        finally:
            services.stop()
    finally:
        capture.stop()
