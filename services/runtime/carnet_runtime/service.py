"""The composition every service shares: settings, pool, migrations, Kafka broker with its
middlewares, outbox relay, idempotent consumers, FastAPI app with health and metrics.

A service's app.py (its composition root) has `create_service(settings=None) -> Service`: it builds
the `Service`, adds its routes and handlers; its `__main__.py` is `run(create_service)`.
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import logging
import os
import ssl
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any, Literal, Union

import asyncpg
import uvicorn
from fastapi import APIRouter, FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.responses import JSONResponse, Response
from faststream.kafka import KafkaBroker
from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from faststream.security import BaseSecurity, SASLScram512
from faststream.specification import AsyncAPI
from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from pydantic import BaseModel, Field, ValidationError

from carnet_contracts.envelope import Event
from carnet_contracts.events import CampaignPurgeStarted, events_on
from carnet_contracts.topics import ALL_TOPICS

from . import aiokafka_on_uvloop, db, purge
from .auth import ServiceTokens, TokenVerifier, documented_roles
from .barrier import GroupBarrier
from .consumer_watch import ConsumerWatch
from .consumers import Consumers
from .errors import RefusalStatuses
from .http import BodySizeLimit, error_responses, install_error_handlers, install_request_metrics
from .lag import ConsumerLagMonitor
from .outbox import Outbox, OutboxRelay
from .purge import PurgeHook
from .retry import periodically, retry
from .workers import serve_in_workers
from .settings import ServiceSettings
from .telemetry import SampledRequests, setup_logging, setup_tracing

log = logging.getLogger(__name__)

BackgroundTask = Callable[["Service"], Awaitable[None]]


class Liveness(BaseModel):
    status: Literal["alive"]


class Readiness(BaseModel):
    status: Literal["ready", "not_ready"]
    checks: dict[str, Literal["up", "down"]] = Field(description="database and broker")


def kafka_security(settings: ServiceSettings) -> BaseSecurity | None:
    """SCRAM-SHA-512 (over TLS when a CA file is given) when credentials are configured."""
    context = ssl.create_default_context(cafile=str(settings.kafka_ssl_cafile)) if settings.kafka_ssl_cafile else None
    if settings.kafka_sasl_username:
        return SASLScram512(settings.kafka_sasl_username, settings.kafka_sasl_password or "", ssl_context=context)
    if context is not None:
        return BaseSecurity(ssl_context=context)
    return None


def create_broker(settings: ServiceSettings, **kwargs: Any) -> KafkaBroker:
    """The service's one Kafka broker: idempotent producer (acks=all), traces and metrics on every hop."""
    aiokafka_on_uvloop.install()
    tracer_provider = setup_tracing(settings.service_name)
    return KafkaBroker(
        # "host:port,host:port": aiokafka takes a list, and would read the whole string as one host
        [server.strip() for server in settings.kafka_bootstrap_servers.split(",")],
        client_id=f"carnet-{settings.service_name}",
        enable_idempotence=True,
        acks="all",
        security=kafka_security(settings),
        request_timeout_ms=15_000,
        middlewares=[
            KafkaTelemetryMiddleware(tracer_provider=tracer_provider),
            KafkaPrometheusMiddleware(registry=REGISTRY, app_name=settings.service_name, metrics_prefix="carnet"),
        ],
        logger=logging.getLogger(f"carnet.{settings.service_name}.kafka"),
        log_level=logging.DEBUG,  # one line per message is too much at INFO
        **kwargs,
    )


class Service:
    def __init__(self, settings: ServiceSettings, *, title: str, description: str = "",
                 migrations: Path | None = None, refusals: Mapping[str, int] | None = None):
        self.settings = settings
        self.name = settings.service_name
        self.migrations = migrations
        self.outbox = Outbox(self.name)
        # Set by `run` (a service process of its own): see `_lifespan`.
        self.freeze_after_start = False
        self.consumers = Consumers(self.name, group=settings.consumer_group or self.name,
                                   batch_max_records=settings.consumer_batch_max_records,
                                   batch_timeout_ms=settings.consumer_batch_timeout_ms)
        self.broker = create_broker(settings)
        self.barrier = GroupBarrier(settings, self.consumers.group)
        self.refusals = RefusalStatuses(refusals)
        self._pool: asyncpg.Pool | None = None
        self._background: list[BackgroundTask] = []
        self._tasks: list[asyncio.Task] = []
        self._body_limits: list[tuple[str, int]] = []
        self.relay: OutboxRelay | None = None
        self.broker_connected = asyncio.Event()
        # FastAPI's own OpenTelemetry (since 0.142) off: requests are traced by opentelemetry-instrumentation-
        # fastapi behind SampledRequests (see asgi()); FastAPI's would wrap every request outside that sampling.
        self.api = FastAPI(title=title, description=description, version="1.0.0", lifespan=self._lifespan,
                           telemetry={"tracing": False, "metrics": False, "logs": False})
        self.api.openapi = self._openapi
        self.api.state.service = self
        self.token_verifier = TokenVerifier(
            settings.keys_dir, audience=self.name, signer_roles=settings.jwt_signer_roles,
            refresh_seconds=settings.jwt_keys_refresh_seconds,
        )
        self.api.state.token_verifier = self.token_verifier
        install_error_handlers(self.api, self.refusals)
        install_request_metrics(self.api, self.name)
        # Outermost of ours: a body too large is refused before anything reads it.
        self.api.add_middleware(BodySizeLimit, default_limit=settings.max_body_bytes, limits=self._body_limits)
        self.api.include_router(self._operations_router())
        self._purge_hooks: list[PurgeHook] = []
        self.consumers.on(CampaignPurgeStarted)(self._campaign_purge_started)
        self.every(settings.kafka_purge_interval_seconds)(self._purge_kafka)

    # --- what a service's app.py uses ---------------------------------------------------

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("the service has not started: no database pool yet")
        return self._pool

    def include_router(self, router: APIRouter) -> None:
        """Add a service's routes; each documents the error body of API.md for its refusals."""
        self.api.include_router(router, responses=error_responses(self.refusals))

    def limit_body(self, route: str, max_bytes: int) -> None:
        """Give one route (a path template, e.g. `/v1/schools/{school_id}/roster`) its own body limit."""
        self._body_limits.append((route, max_bytes))

    def on(self, event, *, alone: bool = False):
        """Decorator: `@service.on(PassGranted) async def granted(conn, event, envelope)`, applied in one
        transaction with the other events of its batch (`alone=True`: in a transaction of its own)."""
        return self.consumers.on(event, alone=alone)

    def applies(self, joining: Callable[[asyncpg.Connection], Any],
                use_cases: Mapping[type[Event], Callable[..., Awaitable[Any]]], *, with_envelope: bool = False) -> None:
        """Register the usual handler for each event: its use case, given a unit of work that joins the
        consumer's transaction (`joining(conn)`) and the event (and its envelope, `with_envelope`)."""
        for event, use_case in use_cases.items():
            self.on(event)(_applying(use_case, joining, with_envelope))

    def on_batch(self, event):
        """Decorator: `@service.on_batch(PassGranted) async def granted(conn, events, envelopes)`, given
        the new events of that type that follow one another in a batch, at once (one query for many)."""
        return self.consumers.on_batch(event)

    def background(self, task: BackgroundTask) -> BackgroundTask:
        """Register a long-running coroutine `task(service)` started once the service is up."""
        self._background.append(task)
        return task

    def every(self, seconds: float) -> Callable[[BackgroundTask], BackgroundTask]:
        """Register `task(service)` to run once the service is up and then every `seconds`;
        a failing run is logged and tried again at the next tick."""

        def register(task: BackgroundTask) -> BackgroundTask:
            async def periodic(service: Service) -> None:
                await periodically(seconds, lambda: task(service), what=task.__name__)

            periodic.__name__ = task.__name__
            self._background.append(periodic)
            return task

        return register

    def on_campaign_purge(self, hook: PurgeHook) -> PurgeHook:
        """Register `hook(conn, event)`: this service's share of a campaign's purge (erase or anonymise
        its personal data of that campaign), run in the same transaction as the runtime's share."""
        self._purge_hooks.append(hook)
        return hook

    async def _campaign_purge_started(self, conn: asyncpg.Connection, event: CampaignPurgeStarted, _: Any) -> None:
        for hook in self._purge_hooks:
            await hook(conn, event)
        await purge.forget_campaign(conn, event)

    def topics_written(self) -> list[str]:
        """The topics this service writes: those it owns, and the dead-letter topics of those it reads."""
        owned = [t.name for t in ALL_TOPICS if t.owner == self.name]
        return owned + [t.dead_letter_name for t in self.consumers.topics]

    async def _purge_kafka(self, _: Service) -> None:
        await purge.truncate_pending(self.pool, self.settings, self.topics_written())

    async def caught_up(self, topic: str, *, within: float) -> bool:
        """Has this service's consumer group applied everything that was on `topic` when asked? Waits at
        most `within` seconds; False when it has not by then, or the broker could not tell (barrier.py)."""
        return await self.barrier.caught_up(topic, within=within)

    def service_tokens(self) -> ServiceTokens:
        """Tokens for this service's own calls to another service, signed with its own key."""
        return ServiceTokens(self.name, self.settings.signing_key_path)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[asyncpg.Connection]:
        async with self.pool.acquire() as conn, conn.transaction():
            yield conn

    def asgi(self) -> FastAPI:
        """The ASGI application: FastAPI routes; the lifespan also runs the Kafka subscribers."""
        self.consumers.subscribe(self.broker, lambda: self.pool)
        self._document_publications()
        tracer_provider = setup_tracing(self.name)
        FastAPIInstrumentor.instrument_app(
            self.api, tracer_provider=tracer_provider, excluded_urls="health,metrics",
            exclude_spans=["receive", "send"],  # one span per request, not three
        )
        if self.settings.trace_sample_ratio < 1.0:  # around the instrumentation (telemetry.SampledRequests)
            instrumented = self.api.build_middleware_stack
            self.api.build_middleware_stack = lambda: SampledRequests(
                instrumented(), ratio=self.settings.trace_sample_ratio,
                slow_seconds=self.settings.trace_slow_seconds, tracer_provider=tracer_provider)
        return self.api

    def _openapi(self) -> dict[str, Any]:
        """FastAPI's document, each operation also saying who may call it (`x-carnet-roles`, and
        `x-carnet-service-scope` for a service-to-service call); none: no token needed."""
        if self.api.openapi_schema is None:
            document = get_openapi(title=self.api.title, version=self.api.version,
                                   description=self.api.description, routes=self.api.routes)
            for context in iter_route_contexts(self.api.routes):
                route = context.original_route
                if not isinstance(route, APIRoute) or not route.include_in_schema:
                    continue
                found = documented_roles(route.dependant)
                for method in route.methods or ():
                    operation = document["paths"].get(context.path_format, {}).get(method.lower())
                    if operation is None:
                        continue
                    operation["x-carnet-roles"] = list(found[0]) if found else []
                    if found and found[1]:
                        operation["x-carnet-service-scope"] = found[1]
            self.api.openapi_schema = document
        return self.api.openapi_schema

    def asyncapi_json(self) -> str:
        """The AsyncAPI document: the topics this service owns and publishes, those it consumes."""
        return AsyncAPI(self.broker, title=f"carnet-{self.name}", version="1.0.0").to_specification().to_json()

    def _document_publications(self) -> None:
        """Declare the topics this service owns, so that /asyncapi.json shows what it publishes
        (the outbox relay does the sending)."""
        for topic in ALL_TOPICS:
            events = events_on(topic, retired=False)
            if topic.owner != self.name or not events:
                continue
            self.broker.publisher(
                topic.name,
                title=f"{topic.name}:publish",
                description=(f"Key: {topic.key}. Envelope (event_id, event_type, schema_version, occurred_at, "
                             f"producer, campaign_id, data) whose data is one of: "
                             f"{', '.join(e.event_type for e in events)}."),
                schema=Union[tuple(events)],  # noqa: UP007 - a runtime union of classes
            )

    # --- life cycle ------------------------------------------------------------------------

    @asynccontextmanager
    async def _lifespan(self, _: FastAPI) -> AsyncIterator[None]:
        AsyncPGInstrumentor().instrument(tracer_provider=setup_tracing(self.name))
        await db.migrate(self.settings.dsn, self.migrations or Path("/nonexistent"), service=self.name)
        self._pool = await db.create_pool(
            self.settings.dsn, min_size=self.settings.database_pool_min, max_size=self.settings.database_pool_max
        )
        self.relay = OutboxRelay(
            self._pool,
            self.broker,
            service=self.name,
            batch_size=self.settings.outbox_batch_size,
            idle_poll_seconds=self.settings.outbox_idle_poll_seconds,
            gather_seconds=self.settings.outbox_gather_seconds,
            on_sent=self.outbox.rows_sent,
        )
        self.outbox.bind(self._pool)
        self._tasks = [asyncio.create_task(self._after_broker(self.relay.run()), name="outbox-relay")]
        lag = ConsumerLagMonitor(self.name, self.broker, interval_seconds=self.settings.consumer_lag_interval_seconds)
        self._tasks.append(asyncio.create_task(self._after_broker(lag.run()), name="consumer-lag"))
        watch = ConsumerWatch(self.name, self.broker, interval_seconds=self.settings.consumer_watch_interval_seconds)
        self._tasks.append(asyncio.create_task(self._after_broker(watch.run()), name="consumer-watch"))
        self._tasks += [asyncio.create_task(task(self), name=task.__name__) for task in self._background]
        await self._connect_broker(self.broker)
        if self.freeze_after_start:
            # What start-up built (modules, the app and its models, the pools) lives as long as the process:
            # out of the cyclic collector's sight (gc.freeze), a full collection no longer walks its ~10^5
            # objects (tens of ms) while requests wait.
            gc.collect()
            gc.freeze()
        log.info("service started", extra={"port": self.settings.port})
        try:
            yield
        finally:
            with suppress(Exception):
                await self.consumers.committer.flush()
                await self.broker.stop()
            for task in self._tasks:
                task.cancel()
            for task in self._tasks:
                with suppress(asyncio.CancelledError, Exception):
                    await task
            with suppress(Exception):
                await self.barrier.close()
            self.outbox.bind(None)
            await self._pool.close()
            self._pool = None

    async def _after_broker(self, work: Awaitable[None]) -> None:
        await self.broker_connected.wait()
        await work

    async def _connect_broker(self, broker: KafkaBroker) -> None:
        """Start the broker, and keep trying in the background while Kafka is unreachable,
        so that the HTTP side serves (and reports not-ready) during an outage at start-up."""
        try:
            await broker.start()
            self.broker_connected.set()
        except Exception as exc:
            log.warning("Kafka unreachable at start-up, retrying", extra={"error": f"{type(exc).__name__}: {exc}"[:300]})
            self._tasks.append(asyncio.create_task(self._keep_connecting(broker), name="broker-connect"))

    async def _keep_connecting(self, broker: KafkaBroker) -> None:
        async def start() -> None:
            with suppress(Exception):
                await broker.stop()
            await broker.start()

        await retry(start, first_wait=0.5, max_wait=5.0, what="Kafka connection")
        self.broker_connected.set()
        log.info("Kafka reachable, broker started")

    # --- operations endpoints ------------------------------------------------------------------

    async def readiness(self) -> dict[str, str]:
        checks = {"database": "down", "broker": "down"}
        if self._pool is not None:
            try:
                await asyncio.wait_for(self._pool.fetchval("SELECT 1"), timeout=2.0)
                checks["database"] = "up"
            except Exception:
                pass
        if self.broker_connected.is_set():
            with suppress(Exception):
                if await self.broker.ping(timeout=2.0):
                    checks["broker"] = "up"
        return checks

    def _operations_router(self) -> APIRouter:
        router = APIRouter(tags=["operations"])

        @router.get("/health/live")
        async def live() -> Liveness:
            return Liveness(status="alive")

        @router.get("/health/ready", response_model=Readiness,
                    responses={503: {"model": Readiness, "description": "A dependency is down: `checks` says which"}})
        async def ready() -> JSONResponse:
            checks = await self.readiness()
            is_ready = all(v == "up" for v in checks.values())
            return JSONResponse({"status": "ready" if is_ready else "not_ready", "checks": checks},
                                status_code=200 if is_ready else 503)

        @router.get("/asyncapi.json", include_in_schema=False)
        async def asyncapi() -> Response:
            return Response(self.asyncapi_json(), media_type="application/json")

        @router.get("/metrics", include_in_schema=False)
        async def metrics() -> Response:
            return Response(metrics_text(), media_type=CONTENT_TYPE_LATEST)

        return router


def run(create_service: Callable[[], Service]) -> None:
    """Build the service from its settings and serve it with uvicorn on its host and port, in
    CARNET_<SERVICE>_HTTP_WORKERS processes (uvicorn's workers, each a whole service: its pools, its
    share of the Kafka partitions, the outbox relay if it is the database's leader; /metrics sums them),
    each listening with a socket of its own (workers.py: the kernel spreads the connections).

    Settings that are missing or wrong (a key without a safe default, say) stop the process here
    with one line per problem, before anything starts."""
    try:
        service = create_service()
    except ValidationError as exc:
        for line in settings_problems(exc):
            print(f"carnet: cannot start: {line}", file=sys.stderr)
        raise SystemExit(2) from None
    setup_logging(service.name, service.settings.log_level)
    proxies = service.settings.trusted_proxies.strip()
    served = dict(
        host=service.settings.http_host,
        port=service.settings.port,
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=5,
        # X-Forwarded-For is believed only from the configured proxies; otherwise the peer's address.
        proxy_headers=bool(proxies),
        forwarded_allow_ips=proxies or None,
    )
    if service.settings.http_workers <= 1:
        service.freeze_after_start = True
        uvicorn.run(service.asgi(), **served)
        return
    os.environ[_FACTORY] = f"{create_service.__module__}:{create_service.__qualname__}"
    # Each worker writes its metrics here; /metrics reads them all (prometheus_client's multiprocess mode).
    os.environ.setdefault(_METRICS_DIR, tempfile.mkdtemp(prefix=f"carnet-{service.name}-metrics-"))
    serve_in_workers("carnet_runtime.service:worker_asgi", service.settings.http_workers, **served)


_FACTORY = "CARNET_SERVICE_FACTORY"
_METRICS_DIR = "PROMETHEUS_MULTIPROC_DIR"


def worker_asgi() -> FastAPI:
    """One worker process of a service run with several (uvicorn calls it in each)."""
    module, _, name = os.environ[_FACTORY].partition(":")
    service: Service = getattr(importlib.import_module(module), name)()
    setup_logging(service.name, service.settings.log_level)
    service.freeze_after_start = True
    return service.asgi()


def metrics_text() -> bytes:
    """This process's metrics, or every worker's when the service runs several."""
    if os.environ.get(_METRICS_DIR):
        from prometheus_client import CollectorRegistry, multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest(REGISTRY)


def settings_problems(error: ValidationError) -> list[str]:
    """What is wrong with the settings, named as the environment variables an operator sets."""
    title = error.title
    lines = []
    for problem in error.errors(include_input=False):
        name = ".".join(str(part) for part in problem["loc"])
        variable = name.upper() if name.upper().startswith("CARNET_") else f"{title}.{name}"
        reason = "is missing" if problem["type"] == "missing" else f"is invalid: {problem['msg']}"
        lines.append(f"{variable} {reason}")
    return lines


def _applying(use_case: Callable[..., Awaitable[Any]], joining: Callable[[asyncpg.Connection], Any],
              with_envelope: bool) -> Callable[[asyncpg.Connection, Event, Any], Awaitable[None]]:
    async def handle(conn: asyncpg.Connection, event: Event, envelope: Any) -> None:
        if with_envelope:
            await use_case(joining(conn), event, envelope)
        else:
            await use_case(joining(conn), event)

    handle.__name__ = getattr(use_case, "__name__", handle.__name__)
    return handle
