"""One redemption, seen from inside: the five services as their own processes on the session's real
Kafka and PostgreSQL, exporting their traces by OTLP/HTTP to a receiver this test runs on loopback.

- the trace of the scanner's POST /v1/redemptions reaches the wallet's consumer span: the trace
  context is stored with the outbox row, the relay publishes under it, Kafka headers carry it;
- /metrics of each service exposes the families the dashboard and the alert rules use.
"""

from __future__ import annotations

import asyncio
import gzip
import secrets
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span as ProtoSpan

from carnet_contracts.events import AffiliateActivated, CampaignPublished, GuardianContact, PassGranted, Pupil
from carnet_contracts.topics import WALLET_WALLETS

pytestmark = pytest.mark.integration

SERVICES = ("enrolment", "wallet", "redemption", "affiliation", "notification")


@dataclass(frozen=True)
class ReceivedSpan:
    service: str
    trace_id: str
    span_id: str
    parent_span_id: str
    name: str
    kind: int


class OtlpReceiver:
    """A minimal OTLP/HTTP trace receiver (protobuf, as the SDK's exporter sends it)."""

    def __init__(self) -> None:
        self.spans: list[ReceivedSpan] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                if self.path == "/v1/traces":
                    receiver._collect(ExportTraceServiceRequest.FromString(body))
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def _collect(self, request: ExportTraceServiceRequest) -> None:
        found = []
        for resource_spans in request.resource_spans:
            attributes = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    found.append(ReceivedSpan(attributes.get("service.name", "?"), span.trace_id.hex(),
                                              span.span_id.hex(), span.parent_span_id.hex(), span.name, span.kind))
        with self._lock:
            self.spans += found

    def snapshot(self) -> list[ReceivedSpan]:
        with self._lock:
            return list(self.spans)

    async def wait_for(self, predicate, *, timeout: float = 60.0) -> ReceivedSpan:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for span in self.snapshot():
                if predicate(span):
                    return span
            await asyncio.sleep(0.3)
        raise AssertionError(f"no such span within {timeout} s ({len(self.snapshot())} received)")

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def otlp() -> Iterator[OtlpReceiver]:
    receiver = OtlpReceiver()
    yield receiver
    receiver.stop()


@pytest.fixture(scope="module")
def system(stack, otlp) -> Iterator[dict]:
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": otlp.endpoint, "OTEL_BSP_SCHEDULE_DELAY": "200",
           "CARNET_REDEMPTION_TRACE_SAMPLE_RATIO": "1",  # every trace, not the service's sampled share
           "CARNET_AFFILIATION_ARGON2_MEMORY_KIB": "8192", "CARNET_AFFILIATION_ARGON2_PARALLELISM": "1"}
    for name in SERVICES:
        env[f"CARNET_{name.upper()}_CONSUMER_LAG_INTERVAL_SECONDS"] = "1"
    processes = {name: stack.service(name, env=env, own_consumer_group=True) for name in SERVICES}
    for process in processes.values():
        process.start(wait=False)
    try:
        for process in processes.values():
            process.wait_ready(timeout=120)
        yield processes
    finally:
        for process in processes.values():
            process.stop()


async def _until(check, *, timeout: float = 60.0, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = await check()
        if value:
            return value
        await asyncio.sleep(0.3)
    raise AssertionError(f"{what}: not within {timeout} s")


@dataclass(frozen=True)
class Redeemed:
    trace_id: str  # the trace the scanner's request carried (its traceparent header)
    ticket_id: str
    wallet_id: str


async def redeem_one_ticket(stack, system: dict) -> Redeemed:
    """What a test of the path needs, made by the test itself: a campaign under way, an affiliate, a
    pass granted, a credited ticket, and its redemption by a scanner whose request starts a trace."""
    wallet, redemption = system["wallet"], system["redemption"]
    today = datetime.now(UTC).date()
    campaign_id = f"campaign-{uuid.uuid4().hex[:8]}"
    affiliate_id = f"aff-{uuid.uuid4().hex[:10]}"
    family = f"family-{uuid.uuid4().hex[:10]}"
    valid_until = today + timedelta(days=200)
    await stack.publish(CampaignPublished(
        campaign_id=campaign_id, label=f"{today.year}-{today.year + 1}", enrolment_opens=today - timedelta(days=30),
        enrolment_closes=today + timedelta(days=60), pass_valid_until=valid_until,
        reimbursement_deadline=valid_until + timedelta(days=30), allowance_cents=7000, tickets_per_pass=7,
        ticket_min_cents=500, ticket_max_cents=7000, eligible_postcode_prefixes=["92"],
        eligible_levels=["6e", "5e", "4e", "3e"], redemption_cancel_grace_minutes=10,
    ))
    await stack.publish(AffiliateActivated(affiliate_id=affiliate_id, name="Club", activity="sport", city="Nanterre",
                                           postcode="92000", activated_at=datetime.now(UTC)))
    granted = PassGranted(
        application_id=f"app-{uuid.uuid4()}", campaign_id=campaign_id, campaign_label=f"Pass {today.year}",
        school_id="0920001A", family_sub=family,
        student=Pupil(last_name="Martin", first_name="Léa", level="5e"),
        guardian=GuardianContact(last_name="Martin", first_name="Anne", email="anne.martin@example.org"),
        allowance_cents=7000, tickets_per_pass=7, ticket_min_cents=500, ticket_max_cents=7000,
        pass_valid_until=valid_until, validated_at=datetime.now(UTC),
    )
    await stack.publish(granted)
    created = await stack.wait_for_event(
        WALLET_WALLETS.name,
        lambda m: m["event_type"] == "WalletCreated" and m["data"]["application_id"] == granted.application_id,
        timeout=60,
    )
    wallet_id = created["data"]["wallet_id"]
    as_family = stack.auth("family", sub=family)
    as_affiliate = stack.auth("affiliate", affiliate_id=affiliate_id, sub=affiliate_id)
    trace_id, parent_id = secrets.token_hex(16), secrets.token_hex(8)

    async with httpx.AsyncClient(timeout=30) as client:
        view = (await client.get(f"{wallet.url}/v1/wallets/{wallet_id}", headers=as_family)).json()
        ticket_id = view["tickets"][0]["ticket_id"]
        credit = await client.post(f"{wallet.url}/v1/wallets/{wallet_id}/tickets/{ticket_id}/credit",
                                   json={"amount_cents": 1500}, headers=as_family)
        assert credit.status_code == 200, credit.text
        view = (await client.get(f"{wallet.url}/v1/wallets/{wallet_id}", headers=as_family)).json()
        code = next(t["code"] for t in view["tickets"] if t["ticket_id"] == ticket_id)

        async def redeemable():
            answer = await client.get(f"{redemption.url}/v1/tickets/{code}", headers=as_affiliate)
            return answer.status_code == 200 and answer.json().get("redeemable")

        await _until(redeemable, what="the redemption service learns the credited ticket and the affiliate")
        redeemed = await client.post(f"{redemption.url}/v1/redemptions", json={"ticket_code": code},
                                     headers={**as_affiliate, "Idempotency-Key": str(uuid.uuid4()),
                                              "traceparent": f"00-{trace_id}-{parent_id}-01"})
        assert redeemed.status_code == 201, redeemed.text

        async def wallet_knows():
            answer = (await client.get(f"{wallet.url}/v1/wallets/{wallet_id}", headers=as_family)).json()
            return next(t for t in answer["tickets"] if t["ticket_id"] == ticket_id)["status"] == "redeemed"

        await _until(wallet_knows, what="the wallet applies TicketRedeemed")
    return Redeemed(trace_id, ticket_id, wallet_id)


async def test_a_redemptions_trace_reaches_the_wallets_consumer_span_through_the_outbox_and_kafka(stack, system, otlp):
    redeemed = await redeem_one_ticket(stack, system)
    trace = redeemed.trace_id
    scanner = await otlp.wait_for(lambda s: s.service == "carnet-redemption" and s.kind == ProtoSpan.SPAN_KIND_SERVER
                                  and s.trace_id == trace and s.name.startswith("POST /v1/redemptions"))
    consumer = await otlp.wait_for(lambda s: s.service == "carnet-wallet" and s.trace_id == trace
                                   and s.kind == ProtoSpan.SPAN_KIND_CONSUMER)
    assert "redemption.redemptions" in consumer.name
    in_trace = [s for s in otlp.snapshot() if s.trace_id == trace]
    # every hop of the path shows in the one trace: the database of the scanner's request, the relay's
    # publication to Kafka, and the wallet's database work for the event
    assert any(s.service == "carnet-redemption" and s.kind == ProtoSpan.SPAN_KIND_CLIENT for s in in_trace)
    assert any(s.service == "carnet-redemption" and s.kind == ProtoSpan.SPAN_KIND_PRODUCER for s in in_trace)
    assert any(s.service == "carnet-wallet" and s.kind == ProtoSpan.SPAN_KIND_CLIENT for s in in_trace)
    # and the consumer span descends from the scanner's request, hop by hop, not merely the same id
    by_id = {s.span_id: s for s in in_trace}
    ancestors, node = [], consumer
    while node.parent_span_id in by_id and len(ancestors) < 50:
        node = by_id[node.parent_span_id]
        ancestors.append(node)
    assert scanner in ancestors, [(a.service, a.name) for a in ancestors]
    assert any(a.kind == ProtoSpan.SPAN_KIND_PRODUCER and a.service == "carnet-redemption" for a in ancestors)


# The metric families issue 8 asks of each service's /metrics. The runtime gives the outbox, the
# consumer lag, the events consumed and HTTP latency to every service; the rest is each service's own.
RUNTIME_FAMILIES = ("carnet_outbox_pending_events", "carnet_outbox_oldest_pending_age_seconds", "carnet_consumer_lag",
                    "carnet_events_consumed_total", "carnet_http_request_duration_seconds")
OWN_FAMILIES = {
    "redemption": ("carnet_redemption_answers_total", "carnet_redemption_duration_seconds"),  # by outcome; latency
    "wallet": ("carnet_wallet_credits_total", "carnet_wallet_wallets_created_total"),
    "notification": ("carnet_notification_attempts_total", "carnet_notification_messages"),  # e-mails by state
}


def _families(text: str) -> set[str]:
    return {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")}


async def test_each_services_metrics_expose_the_outbox_the_consumer_lag_and_its_own_figures(stack, system):
    await redeem_one_ticket(stack, system)  # the figures of a credit and a redemption, this test's own
    async with httpx.AsyncClient(timeout=10) as client:
        for name, process in system.items():
            families = _families((await client.get(f"{process.url}/metrics")).text)
            missing = [f for f in RUNTIME_FAMILIES + OWN_FAMILIES.get(name, ()) if f.removesuffix("_total") not in families
                       and f not in families]
            assert not missing, f"{name} does not expose {missing}"

        async def lag_reported():
            text = (await client.get(f"{system['wallet'].url}/metrics")).text
            return 'carnet_consumer_lag{partition="0",service="wallet",topic="redemption.redemptions"}' in text

        await _until(lag_reported, timeout=30, what="the wallet reports its consumer lag per partition")
        redemption = (await client.get(f"{system['redemption'].url}/metrics")).text
        assert 'carnet_http_request_duration_seconds_bucket{' in redemption and 'route="/v1/redemptions"' in redemption

