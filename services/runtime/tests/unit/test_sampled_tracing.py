"""Sampled tracing of HTTP requests (telemetry.SampledRequests): a share of requests traced by the
instrumentation, the others not, yet every one that fails or is slow written afterwards, in the trace id
its log lines carried."""

from __future__ import annotations

import asyncio

from opentelemetry import trace
from opentelemetry.instrumentation.utils import is_instrumentation_enabled
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from carnet_runtime.telemetry import SampledRequests

SAMPLED_CALLER = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def gate(ratio: float, *, status: int = 200, pause: float = 0.0, slow_seconds: float = 60.0):
    exported = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exported))
    seen: list[tuple[bool, int]] = []

    async def app(scope, receive, send):
        seen.append((is_instrumentation_enabled(), trace.get_current_span().get_span_context().trace_id))
        await asyncio.sleep(pause)
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    return SampledRequests(app, ratio=ratio, slow_seconds=slow_seconds, tracer_provider=provider), exported, seen


async def call(asgi, headers=()) -> None:
    scope = {"type": "http", "method": "POST", "path": "/v1/redemptions", "headers": list(headers)}

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(_):
        pass

    await asgi(scope, receive, send)


async def test_a_sampled_request_goes_to_the_instrumentation_as_always():
    asgi, exported, seen = gate(1.0)
    await call(asgi)
    assert seen[0][0] is True  # instrumented (the instrumentation itself writes its spans)


async def test_a_request_whose_caller_sampled_its_trace_is_traced_whatever_the_ratio():
    asgi, exported, seen = gate(0.0)
    await call(asgi, [(b"traceparent", SAMPLED_CALLER.encode())])
    assert seen[0][0] is True


async def test_an_unsampled_request_that_goes_well_costs_no_span_yet_its_logs_carry_a_trace_id():
    asgi, exported, seen = gate(0.0)
    await call(asgi)
    enabled, trace_id = seen[0]
    assert enabled is False and trace_id != 0
    assert exported.get_finished_spans() == ()


async def test_an_unsampled_request_that_fails_or_is_slow_is_written_afterwards_in_its_trace():
    failing, exported, seen = gate(0.0, status=503)
    await call(failing)
    [span] = exported.get_finished_spans()
    assert span.context.trace_id == seen[0][1] and span.kind is trace.SpanKind.SERVER
    assert span.status.status_code is StatusCode.ERROR and span.attributes["http.response.status_code"] == 503

    slow, exported, seen = gate(0.0, pause=0.05, slow_seconds=0.01)
    await call(slow)
    [span] = exported.get_finished_spans()
    assert span.attributes["carnet.trace.kept"] == "slow" and span.status.status_code is not StatusCode.ERROR


async def test_an_unsampled_request_is_served_beneath_the_asgi_instrumentation(monkeypatch):
    """opentelemetry's ASGI middleware does its work (attributes, a span) even when suppressed: an
    unsampled request skips it, a sampled one is traced by it, and both get the route's answer."""
    import httpx
    from fastapi import FastAPI
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    through_instrumentation = []
    instrumented_call = OpenTelemetryMiddleware.__call__

    async def counted(self, scope, receive, send):
        through_instrumentation.append(scope["path"])
        await instrumented_call(self, scope, receive, send)

    monkeypatch.setattr(OpenTelemetryMiddleware, "__call__", counted)
    exported = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exported))

    def app_sampled_at(ratio: float) -> FastAPI:
        app = FastAPI(telemetry={"tracing": False, "metrics": False, "logs": False})

        @app.get("/v1/thing")
        async def thing() -> dict[str, int]:
            return {"answer": 42}

        FastAPIInstrumentor.instrument_app(app, tracer_provider=provider)
        instrumented = app.build_middleware_stack
        app.build_middleware_stack = lambda: SampledRequests(instrumented(), ratio=ratio, slow_seconds=60,
                                                             tracer_provider=provider)
        return app

    for ratio, traced in ((0.0, []), (1.0, ["/v1/thing"])):
        through_instrumentation.clear()
        exported.clear()
        transport = httpx.ASGITransport(app=app_sampled_at(ratio))
        async with httpx.AsyncClient(transport=transport, base_url="http://carnet") as client:
            answer = await client.get("/v1/thing")
        assert answer.status_code == 200 and answer.json() == {"answer": 42}
        assert through_instrumentation == traced
        assert bool(exported.get_finished_spans()) is bool(traced)
    FastAPIInstrumentor().uninstrument()
