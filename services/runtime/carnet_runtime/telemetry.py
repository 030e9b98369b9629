"""JSON logs without personal data, and OpenTelemetry tracing exported by OTLP when configured.

HTTP requests may be traced by sample (`CARNET_<SERVICE>_TRACE_SAMPLE_RATIO` below 1, `SampledRequests`):
a request whose caller sampled its trace, and that share of the others, is traced by the
instrumentation as always (its server span, its database spans, the trace carried on by its events);
for the rest the instrumentation is suppressed and the request is served from beneath opentelemetry's
ASGI middleware, which costs next to nothing, and if such a request ends in a 5xx or an exception, or
lasts at least `CARNET_<SERVICE>_TRACE_SLOW_SECONDS`, its server span is written afterwards all the
same, in the trace id its log lines carried."""

from __future__ import annotations

import json
import logging
import os
import random
import sys
import time
from datetime import UTC, datetime

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

_STANDARD_ATTRS = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line. Only what callers put in `extra` is added: callers never pass
    names, e-mail addresses, ticket codes, tokens or passwords."""

    def __init__(self, service: str):
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        span = trace.get_current_span().get_span_context()
        if span.is_valid:
            entry["trace_id"] = format(span.trace_id, "032x")
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = value if isinstance(value, (str, int, float, bool, type(None))) else str(value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aiokafka", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


_provider: TracerProvider | None = None


def setup_tracing(service: str) -> TracerProvider:
    """One tracer provider per process; spans go to OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set."""
    global _provider
    if _provider is not None:
        return _provider
    provider = TracerProvider(resource=Resource.create({"service.name": f"carnet-{service}"}))
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    _provider = provider
    return provider


def beneath_server_instrumentation(stack):
    """What an instrumented middleware stack runs under opentelemetry's ASGI middleware: that middleware
    collects the request's attributes and starts a (non-recording) span even when the instrumentation is
    suppressed, so an unsampled request is served from below it. The stack itself when it has none."""
    app = stack
    while app is not None:
        if isinstance(app, OpenTelemetryMiddleware):
            return app.app
        app = getattr(app, "app", None)
    return stack


class SampledRequests:
    """Pure ASGI, around the instrumented app: see the module's docstring."""

    def __init__(self, app, *, ratio: float, slow_seconds: float, tracer_provider: trace.TracerProvider,
                 excluded_paths: tuple[str, ...] = ("/health", "/metrics")):
        self.app = app
        self.untraced = beneath_server_instrumentation(app)
        self.ratio = ratio
        self.slow_ns = int(slow_seconds * 1e9)
        self.tracer = tracer_provider.get_tracer(__name__)
        self.excluded_paths = excluded_paths

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.excluded_paths):
            await self.app(scope, receive, send)
            return
        parent = propagate.extract({k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]
                                    if k == b"traceparent" or k == b"tracestate"})
        caller = trace.get_current_span(parent).get_span_context()
        if caller.trace_flags.sampled or random.random() < self.ratio:
            await self.app(scope, receive, send)
            return
        # Not sampled: what the request's log lines and events carry is this unsampled span context.
        ids = trace.SpanContext(caller.trace_id if caller.is_valid else random.getrandbits(128),
                                random.getrandbits(64), is_remote=False)
        token = otel_context.attach(trace.set_span_in_context(trace.NonRecordingSpan(ids), parent))
        started = time.time_ns()
        status = [500]

        async def send_and_remember(message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            with suppress_instrumentation():
                await self.untraced(scope, receive, send_and_remember)
        finally:
            otel_context.detach(token)
            ended = time.time_ns()
            if status[0] >= 500 or ended - started >= self.slow_ns:
                self._traced_afterwards(scope, ids, started, ended, status[0])

    def _traced_afterwards(self, scope, ids: trace.SpanContext, started: int, ended: int, status: int) -> None:
        route = getattr(scope.get("route"), "path", None)
        under = trace.NonRecordingSpan(trace.SpanContext(ids.trace_id, ids.span_id, is_remote=True,
                                                         trace_flags=trace.TraceFlags(trace.TraceFlags.SAMPLED)))
        attributes = {"http.request.method": scope["method"], "url.path": scope["path"],
                      "http.response.status_code": status, "carnet.trace.kept": "error" if status >= 500 else "slow"}
        if route:
            attributes["http.route"] = route
        span = self.tracer.start_span(f"{scope['method']} {route or scope['path']}", trace.set_span_in_context(under),
                                      kind=trace.SpanKind.SERVER, attributes=attributes, start_time=started)
        if status >= 500:
            span.set_status(trace.Status(trace.StatusCode.ERROR))
        span.end(end_time=ended)
