"""The error body of API.md: {"error": {"code", "message", "details"}} for every 4xx/5xx."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field

from carnet_runtime.errors import Conflict
from carnet_runtime.http import install_error_handlers


class Credit(BaseModel):
    amount_cents: int = Field(ge=1)


def make_client() -> TestClient:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/credit")
    def credit(body: Credit) -> dict:
        raise Conflict("ALLOWANCE_EXCEEDED", "Le montant dépasse le solde du Pass.", details={"remaining_cents": 500})

    @app.get("/boom")
    def boom() -> dict:
        raise RuntimeError("unexpected")

    return TestClient(app, raise_server_exceptions=False)


def test_a_domain_refusal_keeps_its_code_status_message_and_details():
    response = make_client().post("/credit", json={"amount_cents": 1000})
    assert response.status_code == 409
    assert response.json() == {"error": {"code": "ALLOWANCE_EXCEEDED", "message": "Le montant dépasse le solde du Pass.",
                                         "details": {"remaining_cents": 500}}}


def test_malformed_input_is_422_with_the_offending_fields():
    response = make_client().post("/credit", json={"amount_cents": "lots"})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert [f["field"] for f in error["details"]["fields"]] == ["amount_cents"]


def test_unknown_paths_and_crashes_still_answer_in_the_error_shape():
    client = make_client()
    assert client.get("/nowhere").json()["error"]["code"] == "NOT_FOUND"
    crash = client.get("/boom")
    assert crash.status_code == 500
    assert crash.json()["error"]["code"] == "INTERNAL_ERROR"
