"""The whole local stack: PostgreSQL, Kafka (KRaft), the SMTP capture and every service that exists.

State lives under $CARNET_HOME: data, logs, keys, the captured mail and `run/stack.json`, which
lists the processes `carnet stack down` must stop.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from .config import SERVICE_PORTS, SERVICES, StackConfig, ensure_keys, service_environment, shared_secrets
from .kafka import KafkaNode, create_topics, ensure_jars
from .postgres import PostgresCluster, create_database
from .processes import StackError, pid_alive, port_accepts, require_free_port, spawn, stop_pid, wait_until


@dataclass
class Component:
    name: str
    pid: int
    port: int
    url: str | None = None


def _state_file(config: StackConfig) -> Path:
    return config.run_dir / "stack.json"


def read_state(config: StackConfig) -> list[Component]:
    path = _state_file(config)
    if not path.exists():
        return []
    return [Component(**c) for c in json.loads(path.read_text())]


def _write_state(config: StackConfig, components: list[Component]) -> None:
    config.run_dir.mkdir(parents=True, exist_ok=True)
    _state_file(config).write_text(json.dumps([c.__dict__ for c in components], indent=2))


def existing_services() -> list[str]:
    """The services that can run: those whose package has a `__main__`."""
    return [name for name in SERVICES if importlib.util.find_spec(name) and importlib.util.find_spec(f"{name}.__main__")]


def up(config: StackConfig, say=print) -> list[Component]:
    running = [c for c in read_state(config) if pid_alive(c.pid)]
    if running:
        raise StackError(f"the stack is already running under {config.home} (`carnet stack down` first)")
    config.home.mkdir(parents=True, exist_ok=True)
    ensure_keys(config.keys_dir)
    shared_secrets(config.home)
    components: list[Component] = []
    started = time.monotonic()
    try:
        server_url = config.external_database_url
        if not server_url:
            postgres = PostgresCluster(config.home / "postgres" / "data", port=config.postgres_port)
            postgres.start()
            components.append(Component("postgres", postgres.process.pid, config.postgres_port))
            _write_state(config, components)
            server_url = postgres.url
            say(f"PostgreSQL ready on 127.0.0.1:{config.postgres_port}")
        for name in SERVICES:
            asyncio.run(create_database(server_url, f"carnet_{name}"))

        ensure_jars()
        kafka = KafkaNode(config.home / "kafka", port=config.kafka_port, controller_port=config.kafka_controller_port)
        kafka.start(timeout=90)
        components.append(Component("kafka", kafka.process.pid, config.kafka_port))
        _write_state(config, components)
        asyncio.run(create_topics(kafka.bootstrap))
        say(f"Kafka ready on {kafka.bootstrap}")

        require_free_port(config.smtp_port, "the SMTP capture")
        smtp = spawn([sys.executable, "-m", "carnet_local.smtp", "--port", str(config.smtp_port), "--dir", str(config.mail_dir)],
                     log_file=config.log_dir / "smtp.log")
        components.append(Component("smtp", smtp.pid, config.smtp_port))
        _write_state(config, components)
        wait_until(lambda: port_accepts(config.smtp_port), timeout=15, what="the SMTP capture", process=smtp,
                   log_file=config.log_dir / "smtp.log")
        say(f"SMTP capture on 127.0.0.1:{config.smtp_port}, e-mails in {config.mail_dir}")

        services = []
        for name in existing_services():
            port = SERVICE_PORTS[name]
            require_free_port(port, f"the {name} service")
            env = service_environment(name, home=config.home, database_url=server_url, kafka_bootstrap=kafka.bootstrap,
                                      keys_dir=config.keys_dir, smtp_port=config.smtp_port, http_port=port)
            process = spawn([sys.executable, "-m", name], log_file=config.log_dir / f"{name}.log", env=env)
            components.append(Component(name, process.pid, port, f"http://127.0.0.1:{port}"))
            services.append((name, process, port))
        _write_state(config, components)
        for name, process, port in services:
            wait_until(lambda port=port: _ready(port), timeout=90, what=f"the {name} service", process=process,
                       log_file=config.log_dir / f"{name}.log", interval=0.3)
            say(f"{name} ready on http://127.0.0.1:{port}")
    except BaseException:
        down(config, say=lambda *_: None, components=components)
        raise
    say(f"Carnet is up in {time.monotonic() - started:.1f} s (state in {config.home})")
    return components


def _ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def down(config: StackConfig, say=print, components: list[Component] | None = None) -> None:
    """Stop every process of the stack, services first, PostgreSQL last."""
    components = components if components is not None else read_state(config)
    for component in reversed(components):
        if pid_alive(component.pid):
            stop_pid(component.pid, timeout=20, first_signal=signal.SIGINT if component.name == "postgres" else signal.SIGTERM)
            say(f"stopped {component.name}")
    state = _state_file(config)
    if state.exists():
        state.unlink()


def status(config: StackConfig) -> list[dict]:
    rows = []
    for component in read_state(config):
        alive = pid_alive(component.pid)
        if not alive:
            state = "stopped"
        elif component.url:
            state = "ready" if _ready(component.port) else "not ready"
        else:
            state = "running" if port_accepts(component.port) else "starting"
        rows.append({"name": component.name, "pid": component.pid, "port": component.port, "state": state})
    return rows
