"""The error body of API.md: {"error": {"code", "message", "details"}} for every 4xx/5xx, its status
from one table, and the limits at the door."""

from __future__ import annotations

import pytest
from fastapi import APIRouter, FastAPI, Request
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field

from carnet_runtime.errors import Refusal, RefusalStatuses
from carnet_runtime.http import ERROR_RESPONSES, BodySizeLimit, install_error_handlers
from carnet_runtime.text import MultilineText, PlainText

TABLE = {"ALLOWANCE_EXCEEDED": 409, "TOO_MANY_GUESSES": 429}


class Credit(BaseModel):
    amount_cents: int = Field(ge=1)


class Named(BaseModel):
    name: PlainText
    note: MultilineText = ""


def make_client(limits=None) -> TestClient:
    app = FastAPI()
    install_error_handlers(app, RefusalStatuses(TABLE))
    app.add_middleware(BodySizeLimit, default_limit=1000, limits=limits or [("/files/{name}", 5000)])
    router = APIRouter()

    @router.post("/credit")
    def credit(body: Credit) -> dict:
        raise Refusal("ALLOWANCE_EXCEEDED", "Le montant dépasse le solde du Pass.", {"remaining_cents": 500})

    @router.post("/guess")
    def guess() -> dict:
        raise Refusal("TOO_MANY_GUESSES", "Trop d'essais : patientez.", retry_after=30)

    @router.post("/typo")
    def typo() -> dict:
        raise Refusal("NOT_IN_THE_TABLE", "Oups.")

    @router.post("/named")
    def named(body: Named) -> dict:
        return {"name": body.name}

    @router.post("/files/{name}")
    async def upload(name: str, request: Request) -> dict:
        return {"size": len(await request.body())}

    @router.get("/boom")
    def boom() -> dict:
        raise RuntimeError("unexpected")

    app.include_router(router, responses=ERROR_RESPONSES)
    return TestClient(app, raise_server_exceptions=False)


def test_a_refusal_keeps_its_code_message_and_details_and_takes_its_status_from_the_table():
    response = make_client().post("/credit", json={"amount_cents": 1000})
    assert response.status_code == 409
    assert response.json() == {"error": {"code": "ALLOWANCE_EXCEEDED", "message": "Le montant dépasse le solde du Pass.",
                                         "details": {"remaining_cents": 500}}}


def test_a_refusal_that_says_when_to_try_again_answers_retry_after():
    response = make_client().post("/guess")
    assert (response.status_code, response.headers["Retry-After"]) == (429, "30")


def test_a_code_missing_from_the_table_is_a_server_error_not_a_guess():
    assert make_client().post("/typo").status_code == 500


def test_a_service_cannot_give_a_runtime_code_another_status():
    with pytest.raises(ValueError):
        RefusalStatuses({"VALIDATION_ERROR": 400})


def test_malformed_input_is_422_with_the_offending_fields():
    response = make_client().post("/credit", json={"amount_cents": "lots"})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert [f["field"] for f in error["details"]["fields"]] == ["amount_cents"]


@pytest.mark.parametrize("name", ["Zoé\x00", "Jean\nBcc: x@y", "\u202eevil", "a\u2066b", "\x1b[31m"])
def test_control_and_bidirectional_characters_are_refused_naming_the_field(name):
    response = make_client().post("/named", json={"name": name})
    assert response.status_code == 422
    assert [f["field"] for f in response.json()["error"]["details"]["fields"]] == ["name"]


def test_accents_other_alphabets_and_line_breaks_in_free_text_are_kept():
    response = make_client().post("/named", json={"name": "Zoé Ørsted-Łukasz 李", "note": "ligne 1\nligne 2"})
    assert response.json() == {"name": "Zoé Ørsted-Łukasz 李"}


def test_a_body_declared_too_large_is_413_before_it_is_read():
    client = make_client()
    response = client.post("/credit", content=b"x" * 1001, headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json()["error"] == {"code": "PAYLOAD_TOO_LARGE", "message": "La demande envoyée est trop volumineuse.",
                                        "details": {"max_bytes": 1000}}


def test_a_streamed_body_is_cut_off_at_the_limit():
    def chunks():
        for _ in range(20):
            yield b"y" * 100

    response = make_client().post("/credit", content=chunks(), headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"


def test_a_route_with_its_own_limit_takes_larger_bodies_up_to_it():
    client = make_client()
    assert client.post("/files/roster.csv", content=b"z" * 4000).json() == {"size": 4000}
    assert client.post("/files/roster.csv", content=b"z" * 5001).status_code == 413


def test_unknown_paths_and_crashes_still_answer_in_the_error_shape():
    client = make_client()
    assert client.get("/nowhere").json()["error"]["code"] == "NOT_FOUND"
    crash = client.get("/boom")
    assert crash.status_code == 500
    assert crash.json()["error"]["code"] == "INTERNAL_ERROR"


def test_every_route_documents_the_error_body():
    document = make_client().app.openapi()
    responses = document["paths"]["/credit"]["post"]["responses"]
    assert responses["422"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorBody"}
    assert {"401", "403", "404", "409", "413", "422", "429"} <= set(responses)
