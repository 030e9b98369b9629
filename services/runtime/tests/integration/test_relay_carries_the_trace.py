"""The outbox relay sends rows beneath FastStream's publish middlewares, yet each message carries its row's
trace on the real Kafka of the session: an unsampled trace as it was written, a sampled one through a
producer span of the relay's, so a consumer's span still descends from the request that wrote the event."""

from __future__ import annotations

import uuid

import pytest
from aiokafka import AIOKafkaConsumer
from faststream.kafka import KafkaBroker
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace

from carnet_contracts.events import SchoolRegistered
from carnet_runtime.outbox import OutboxRelay
from carnet_runtime.telemetry import setup_tracing

pytestmark = pytest.mark.integration


def request_span(sampled: bool) -> trace.SpanContext:
    return trace.SpanContext(uuid.uuid4().int, uuid.uuid4().int >> 64, is_remote=False,
                             trace_flags=trace.TraceFlags(trace.TraceFlags.SAMPLED if sampled else 0))


def traceparent(span: trace.SpanContext) -> str:
    return f"00-{span.trace_id:032x}-{span.span_id:016x}-{int(span.trace_flags):02x}"


async def test_each_message_carries_its_rows_trace_sampled_or_not(stack, outbox_of_its_own):
    setup_tracing("relay-probe")  # the SDK provider a service has (no-op tracers would make no producer span)
    topic, pool, outbox = outbox_of_its_own
    broker = KafkaBroker(stack.kafka_bootstrap, enable_idempotence=True, acks="all")
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=stack.kafka_bootstrap, group_id=None,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    written: dict[str, trace.SpanContext] = {}
    try:
        for sampled in (False, True):
            span = request_span(sampled)
            token = otel_context.attach(trace.set_span_in_context(trace.NonRecordingSpan(span)))
            try:
                async with pool.acquire() as conn, conn.transaction():
                    [envelope] = await outbox.add_all(conn, [(SchoolRegistered(
                        school_id=f"s-{sampled}", name="École", postcode="92100", city="Boulogne"), None)])
            finally:
                otel_context.detach(token)
            written[str(envelope.event_id)] = span

        await broker.start()
        async with pool.acquire() as conn:
            assert await OutboxRelay(pool, broker, service="relay_trace").relay_once(conn) == 2
        await consumer.start()
        received = {}
        while len(received) < 2:
            for records in (await consumer.getmany(timeout_ms=10_000)).values():
                for record in records:
                    headers = {name: value.decode() for name, value in record.headers}
                    received[headers["event-id"]] = headers
        assert received.keys() == written.keys()
        for event_id, span in written.items():
            headers = received[event_id]
            assert headers["event-type"] == "SchoolRegistered"
            carried = trace.get_current_span(propagate.extract(headers)).get_span_context()
            assert carried.trace_id == span.trace_id, "the message continues the request's trace"
            if span.trace_flags.sampled:
                assert carried.trace_flags.sampled and carried.span_id != span.span_id  # the relay's producer span
            else:
                assert headers["traceparent"] == traceparent(span)  # as written: no span of the relay's
    finally:
        await consumer.stop()
        await broker.stop()
