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
from .kafka import KafkaCluster, KafkaNode, create_topics, ensure_jars
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


def kafka_nodes(config: StackConfig, brokers: int) -> KafkaNode | KafkaCluster:
    """One broker on the configured ports, or three (KRaft, replication 3, min.insync.replicas 2, as in
    production) on every other port from there: brokers 9092, 9094, 9096, controllers 9093, 9095, 9097."""
    if brokers == 1:
        return KafkaNode(config.home / "kafka", port=config.kafka_port, controller_port=config.kafka_controller_port)
    if brokers != 3:
        raise StackError(f"--brokers {brokers}: the local stack runs 1 broker or 3")
    return KafkaCluster(config.home / "kafka-3", ports=[config.kafka_port + 2 * i for i in range(3)],
                        controller_ports=[config.kafka_controller_port + 2 * i for i in range(3)])


def _expected(config: StackConfig, brokers: int) -> list[str]:
    kafka = ["kafka"] if brokers == 1 else [f"kafka-{i + 1}" for i in range(brokers)]
    return ([] if config.external_database_url else ["postgres"]) + kafka + ["smtp", *existing_services()]


def up(config: StackConfig, say=print, brokers: int = 1) -> list[Component]:
    """Start what is not running; with everything already up, say so. Only what this call started is
    stopped again if a step fails."""
    recorded = read_state(config)
    alive = {c.name: c for c in recorded if pid_alive(c.pid)}
    running_kafka = sorted(name for name in alive if name.startswith("kafka"))
    wanted = _expected(config, brokers)
    if running_kafka and not set(running_kafka) <= {n for n in wanted if n.startswith("kafka")}:
        raise StackError(f"the stack under {config.home} runs {len(running_kafka)} Kafka broker(s), not {brokers}: "
                         "`carnet stack down` first to change")
    if alive and all(name in alive for name in wanted) and all(
            alive[name].url is None or _ready(alive[name].port) for name in wanted):
        say(f"Carnet is already up (state in {config.home}): `carnet stack status` shows each piece")
        return [alive[name] for name in wanted]
    if alive:
        say(f"already running: {', '.join(alive)}; starting the rest")
    config.home.mkdir(parents=True, exist_ok=True)
    ensure_keys(config.keys_dir)
    shared_secrets(config.home)
    components: list[Component] = list(alive.values())
    started_now: list[Component] = []
    started = time.monotonic()

    def record(component: Component) -> None:
        components.append(component)
        started_now.append(component)
        # in starting order, whatever was restarted: `down` stops them in reverse (services first)
        components.sort(key=lambda c: wanted.index(c.name) if c.name in wanted else len(wanted))
        _write_state(config, components)

    try:
        _write_state(config, components)
        server_url = config.external_database_url
        if not server_url:
            postgres = PostgresCluster(config.home / "postgres" / "data", port=config.postgres_port)
            if "postgres" not in alive:
                postgres.start()
                record(Component("postgres", postgres.process.pid, config.postgres_port))
                say(f"PostgreSQL ready on 127.0.0.1:{config.postgres_port}")
            server_url = postgres.url
        for name in SERVICES:
            asyncio.run(create_database(server_url, f"carnet_{name}"))

        ensure_jars()
        kafka = kafka_nodes(config, brokers)
        nodes = [kafka] if isinstance(kafka, KafkaNode) else kafka.nodes
        names = ["kafka"] if isinstance(kafka, KafkaNode) else [f"kafka-{n.node_id}" for n in nodes]
        missing = [(name, node) for name, node in zip(names, nodes) if name not in alive]
        for name, node in missing:
            node.spawn()
            record(Component(name, node.process.pid, node.port))
        for name, node in missing:
            node.wait_ready(timeout=120)
        asyncio.run(create_topics(kafka.bootstrap, replication=len(nodes)))
        say(f"Kafka ready on {kafka.bootstrap}" + (f" ({len(nodes)} brokers, replication {len(nodes)}, "
                                                   "min.insync.replicas 2)" if len(nodes) > 1 else ""))

        if "smtp" not in alive:
            require_free_port(config.smtp_port, "the SMTP capture")
            smtp = spawn([sys.executable, "-m", "carnet_local.smtp", "--port", str(config.smtp_port), "--dir", str(config.mail_dir)],
                         log_file=config.log_dir / "smtp.log")
            record(Component("smtp", smtp.pid, config.smtp_port))
            wait_until(lambda: port_accepts(config.smtp_port), timeout=15, what="the SMTP capture", process=smtp,
                       log_file=config.log_dir / "smtp.log")
            say(f"SMTP capture on 127.0.0.1:{config.smtp_port}, e-mails in {config.mail_dir}")

        services = []
        for name in existing_services():
            port = SERVICE_PORTS[name]
            if name in alive:
                services.append((name, None, port))  # waited for below, not started again
                continue
            require_free_port(port, f"the {name} service")
            env = service_environment(name, home=config.home, database_url=server_url, kafka_bootstrap=kafka.bootstrap,
                                      keys_dir=config.keys_dir, smtp_port=config.smtp_port, http_port=port)
            process = spawn([sys.executable, "-m", name], log_file=config.log_dir / f"{name}.log", env=env)
            record(Component(name, process.pid, port, f"http://127.0.0.1:{port}"))
            services.append((name, process, port))
        for name, process, port in services:
            wait_until(lambda port=port: _ready(port), timeout=90, what=f"the {name} service", process=process,
                       log_file=config.log_dir / f"{name}.log", interval=0.3)
            if process is not None:
                say(f"{name} ready on http://127.0.0.1:{port}")
    except BaseException:
        down(config, say=lambda *_: None, components=started_now)
        _write_state(config, [c for c in components if c not in started_now])
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
