"""Tokens: who may sign what, for which service, with which role (API.md, Authentication)."""

from __future__ import annotations

import time

import jwt
import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from carnet_runtime.auth import Principal, ServiceTokens, TokenSigner, TokenVerifier, ensure_keypair, require
from carnet_runtime.errors import Refusal
from carnet_runtime.http import install_error_handlers

ALL = ("enrolment", "wallet", "redemption", "affiliation", "notification")


@pytest.fixture
def keys(tmp_path):
    for name in ("gateway", "affiliation", "service.notification", "service.wallet"):
        ensure_keypair(tmp_path, name)
    ensure_keypair(tmp_path / "elsewhere", "stranger")
    return tmp_path


def verifier(keys, audience="wallet", **kwargs) -> TokenVerifier:
    return TokenVerifier(keys, audience=audience, **kwargs)


def sign(keys, key: str, role: str, *, audience=ALL, **claims) -> str:
    return TokenSigner(keys / f"{key}.pem").sign(sub=claims.pop("sub", "someone"), role=role, audience=audience,
                                                 **claims)


def refused(check, code="TOKEN_INVALID") -> None:
    with pytest.raises(Refusal) as refusal:
        check()
    assert refusal.value.code == code


def test_a_token_signed_by_a_key_allowed_for_its_role_gives_its_claims(keys):
    token = sign(keys, "gateway", "correspondent", sub="c1", school_id="S1")
    assert verifier(keys).verify(token) == Principal(sub="c1", role="correspondent", school_id="S1", signer="gateway")


@pytest.mark.parametrize("key, role", [
    ("affiliation", "admin"), ("affiliation", "family"), ("affiliation", "correspondent"),
    ("service.notification", "admin"), ("service.notification", "affiliate"),
    ("gateway", "affiliate"), ("gateway", "service"),
])
def test_a_key_may_not_sign_a_role_that_is_not_its_own(keys, key, role):
    refused(lambda: verifier(keys).verify(sign(keys, key, role, sub="notification", affiliate_id="A1")))


def test_a_service_key_signs_only_for_its_own_service(keys):
    assert verifier(keys).verify(sign(keys, "service.notification", "service", sub="notification")).sub == "notification"
    refused(lambda: verifier(keys).verify(sign(keys, "service.notification", "service", sub="wallet")))
    refused(lambda: verifier(keys).verify(sign(keys, "service.wallet", "service", sub="notification")))


def test_a_token_for_another_service_or_for_none_is_refused(keys):
    refused(lambda: verifier(keys, "wallet").verify(sign(keys, "gateway", "admin", audience=["enrolment"])))
    no_audience = jwt.encode({"sub": "x", "role": "admin", "exp": int(time.time()) + 60},
                             TokenSigner(keys / "gateway.pem")._key, algorithm="EdDSA", headers={"kid": "gateway"})
    refused(lambda: verifier(keys).verify(no_audience))
    assert verifier(keys, "enrolment").verify(sign(keys, "gateway", "admin", audience=["enrolment"])).role == "admin"


def test_signer_roles_can_be_configured_for_another_gateway(keys):
    ensure_keypair(keys, "schools-portal")
    bound = verifier(keys, signer_roles={"schools-portal": ["correspondent"]})
    assert bound.verify(sign(keys, "schools-portal", "correspondent", school_id="S1")).school_id == "S1"
    refused(lambda: bound.verify(sign(keys, "schools-portal", "admin")))
    refused(lambda: bound.verify(sign(keys, "gateway", "admin")))  # the defaults are replaced, not merged


def test_a_rotated_key_of_a_signer_keeps_the_signers_roles(keys):
    ensure_keypair(keys, "gateway@2027-01")
    assert verifier(keys).verify(sign(keys, "gateway@2027-01", "admin")).signer == "gateway"
    refused(lambda: verifier(keys).verify(sign(keys, "gateway@2027-01", "affiliate", affiliate_id="A1")))


def test_a_token_signed_by_an_unknown_key_is_refused(keys):
    refused(lambda: verifier(keys).verify(sign(keys / "elsewhere", "stranger", "admin")))


def test_an_expired_token_is_refused(keys):
    refused(lambda: verifier(keys).verify(sign(keys, "gateway", "admin", ttl_seconds=-10)), "TOKEN_EXPIRED")


def test_a_token_with_a_forged_role_or_an_unsigned_token_is_refused(keys):
    signed = sign(keys, "gateway", "family")
    header, payload, signature = signed.split(".")
    claims = {"sub": "x", "role": "admin", "aud": list(ALL), "exp": int(time.time()) + 60}
    forged = jwt.encode(claims, "secret", algorithm="HS256", headers={"kid": "gateway"})
    unsigned = jwt.encode(claims, None, algorithm="none", headers={"kid": "gateway"})
    for token in (forged, unsigned, f"{header}.{forged.split('.')[1]}.{signature}", "not-a-token"):
        refused(lambda token=token: verifier(keys).verify(token))


def test_a_key_added_after_start_is_trusted_without_restart(keys):
    checking = verifier(keys)
    ensure_keypair(keys, "gateway@next")
    assert checking.verify(sign(keys, "gateway@next", "admin")).role == "admin"


def test_a_key_removed_from_the_directory_stops_being_trusted_at_the_next_refresh(keys):
    checking = verifier(keys, refresh_seconds=0.2)
    token = sign(keys, "affiliation", "affiliate", affiliate_id="A1")
    assert checking.verify(token).affiliate_id == "A1"
    generation = checking.generation
    (keys / "affiliation.pub.pem").unlink()
    checking._scanned_at -= 1.0  # the refresh period has passed
    refused(lambda: checking.verify(token))
    assert checking.generation != generation


def test_service_tokens_name_one_service_and_one_call(keys):
    token = ServiceTokens("notification", keys / "service.notification.pem").for_call("wallet", scope="wallet.tickets_pdf")
    principal = verifier(keys, "wallet").verify(token)
    assert (principal.role, principal.sub, principal.scopes) == ("service", "notification", ("wallet.tickets_pdf",))
    refused(lambda: verifier(keys, "enrolment").verify(token))
    with pytest.raises(ValueError):
        ServiceTokens("notification", keys / "gateway.pem")


@pytest.fixture
def client(keys):
    app = FastAPI()
    app.state.token_verifier = verifier(keys)
    install_error_handlers(app)
    router = APIRouter()

    @router.get("/admin-only")
    def admin_only(principal: Principal = require("admin")) -> dict:
        return {"sub": principal.sub}

    @router.get("/sheet")
    def sheet(principal: Principal = require("family", "service", service_scope="wallet.tickets_pdf")) -> dict:
        return {"sub": principal.sub}

    app.include_router(router)
    return TestClient(app)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_no_token_is_401_a_wrong_role_is_403_the_right_role_passes(keys, client):
    assert client.get("/admin-only").status_code == 401
    assert client.get("/admin-only").json()["error"]["code"] == "AUTHENTICATION_REQUIRED"
    family = client.get("/admin-only", headers=bearer(sign(keys, "gateway", "family")))
    assert family.status_code == 403
    assert family.json()["error"]["code"] == "FORBIDDEN"
    assert client.get("/admin-only", headers=bearer(sign(keys, "gateway", "admin", sub="a"))).json() == {"sub": "a"}


def test_a_service_token_passes_only_with_the_calls_scope(keys, client):
    tokens = ServiceTokens("notification", keys / "service.notification.pem")
    assert client.get("/sheet", headers=bearer(tokens.for_call("wallet", "wallet.tickets_pdf"))).status_code == 200
    assert client.get("/sheet", headers=bearer(tokens.for_call("wallet", "wallet.other"))).status_code == 403
    assert client.get("/admin-only", headers=bearer(tokens.for_call("wallet", "wallet.tickets_pdf"))).status_code == 403
