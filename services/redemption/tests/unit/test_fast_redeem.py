"""POST /v1/redemptions served by api.FastRedeem: a request the scanner would never send, malformed in any
way, gets the documented route's own answer (FastAPI's validation, the token dependency's refusals), in
the same order as without the fast path (the token first, then the input). In process, no database: none
of these requests reaches the use case."""

from __future__ import annotations

import json

import httpx
import pytest

from prometheus_client import REGISTRY

from carnet_runtime.auth import TokenSigner, ensure_keypair
from redemption.app import create_service
from redemption.settings import RedemptionSettings


@pytest.fixture
async def client(tmp_path, monkeypatch):
    affiliation = TokenSigner(ensure_keypair(tmp_path, "affiliation"))
    gateway = TokenSigner(ensure_keypair(tmp_path, "gateway"))
    monkeypatch.setenv("CARNET_TICKET_CODE_HASH_KEY", "k" * 32)
    monkeypatch.setenv("CARNET_JWT_KEYS_DIR", str(tmp_path))
    api = create_service(RedemptionSettings()).asgi()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url="http://redemption") as c:
        c.affiliate = {"Authorization": "Bearer " + affiliation.sign(sub="s", role="affiliate", audience=["redemption"],
                                                                     affiliate_id="aff-1")}
        c.family = {"Authorization": "Bearer " + gateway.sign(sub="f", role="family", audience=["redemption"])}
        yield c


async def post(client, headers: dict[str, str], body: bytes | str, content_type: str | None = "application/json"):
    sent = {**headers, **({"Content-Type": content_type} if content_type else {})}
    answer = await client.post("/v1/redemptions", content=body, headers=sent)
    return answer.status_code, answer.json()["error"]


def fields(error: dict) -> list[str]:
    return [f["field"] for f in error["details"]["fields"]]


async def test_a_malformed_body_or_key_gets_fastapis_validation_answer_naming_the_field(client):
    key = {"Idempotency-Key": "k-1"}
    for body, field in ((b"{not json", None), (json.dumps({"ticket_code": 12}), "ticket_code"),
                        (json.dumps({"ticket_code": "A" * 201}), "ticket_code"), (b"[]", None),
                        (json.dumps({"code": "x"}), "ticket_code")):
        status, error = await post(client, {**client.affiliate, **key}, body)
        assert (status, error["code"]) == (422, "VALIDATION_ERROR") and fields(error), (body, error)
        assert field is None or fields(error) == [field], (body, error)
    status, error = await post(client, {**client.affiliate, "Idempotency-Key": "k" * 201}, json.dumps({"ticket_code": "x"}))
    assert (status, error["code"], fields(error)) == (422, "VALIDATION_ERROR", ["idempotency-key"])
    status, error = await post(client, client.affiliate, json.dumps({"ticket_code": "x"}))
    assert (status, fields(error)) == (422, ["idempotency-key"])


async def test_the_token_is_checked_before_the_fields_with_or_without_the_fast_path(client):
    """FastAPI's order: a body that is not JSON at all first, then the token, then the fields."""
    key = {"Idempotency-Key": "k-1"}
    for headers in ({}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer"}, {"Authorization": "Bearer x.y.z"}):
        for body in (json.dumps({"ticket_code": "x"}), json.dumps({"ticket_code": 12})):
            status, error = await post(client, {**headers, **key}, body)
            assert status == 401 and error["code"] in ("AUTHENTICATION_REQUIRED", "TOKEN_INVALID"), (headers, error)
        status, error = await post(client, {**headers, **key}, b"{not json")
        assert (status, error["code"]) == (422, "VALIDATION_ERROR")
    for body in (json.dumps({"ticket_code": "x"}), json.dumps({"ticket_code": 12})):
        status, error = await post(client, {**client.family, **key}, body)
        assert (status, error["code"]) == (403, "FORBIDDEN")


async def test_the_request_metrics_name_the_documented_route_on_either_path(client):
    key = {**client.affiliate, "Idempotency-Key": "k-1"}
    labels = {"service": "redemption", "method": "POST", "route": "/v1/redemptions", "status": "422"}

    def counted() -> float:
        return REGISTRY.get_sample_value("carnet_http_request_duration_seconds_count", labels) or 0.0

    before = counted()
    await post(client, key, json.dumps({"ticket_code": "not-a-code"}))  # the fast path
    await post(client, key, b"{not json")  # the documented route
    assert counted() == before + 2


async def test_a_code_that_cannot_be_one_is_refused_code_malformed_on_either_path(client):
    key = {**client.affiliate, "Idempotency-Key": "k-1"}
    for content_type in ("application/json", "application/json; charset=utf-8"):
        status, error = await post(client, key, json.dumps({"ticket_code": "not-a-code"}), content_type)
        assert (status, error["code"]) == (422, "CODE_MALFORMED")
