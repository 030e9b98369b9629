"""Tokens: who may call, with which role and scope (API.md, Authentication)."""

from __future__ import annotations

import time

import jwt
import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from carnet_runtime.auth import Principal, TokenSigner, TokenVerifier, ensure_keypair, require
from carnet_runtime.errors import Unauthenticated
from carnet_runtime.http import install_error_handlers


@pytest.fixture
def keys(tmp_path):
    ensure_keypair(tmp_path, "gateway")
    ensure_keypair(tmp_path / "elsewhere", "stranger")
    return tmp_path


def test_a_token_signed_by_a_trusted_key_gives_its_claims(keys):
    token = TokenSigner(keys / "gateway.pem").sign(sub="c1", role="correspondent", school_id="S1")
    assert TokenVerifier(keys).verify(token) == Principal(sub="c1", role="correspondent", school_id="S1")


def test_a_token_signed_by_an_unknown_key_is_refused(keys):
    token = TokenSigner(keys / "elsewhere" / "stranger.pem").sign(sub="x", role="admin")
    with pytest.raises(Unauthenticated) as refused:
        TokenVerifier(keys).verify(token)
    assert refused.value.code == "TOKEN_INVALID"


def test_an_expired_token_is_refused(keys):
    token = TokenSigner(keys / "gateway.pem").sign(sub="x", role="admin", ttl_seconds=-10)
    with pytest.raises(Unauthenticated) as refused:
        TokenVerifier(keys).verify(token)
    assert refused.value.code == "TOKEN_EXPIRED"


def test_a_token_with_a_forged_role_or_an_unsigned_token_is_refused(keys):
    signed = TokenSigner(keys / "gateway.pem").sign(sub="x", role="family")
    header, payload, signature = signed.split(".")
    forged = jwt.encode({"sub": "x", "role": "admin", "exp": int(time.time()) + 60}, "secret", algorithm="HS256",
                        headers={"kid": "gateway"})
    for token in (forged, f"{header}.{forged.split('.')[1]}.{signature}", "not-a-token"):
        with pytest.raises(Unauthenticated):
            TokenVerifier(keys).verify(token)


def test_a_key_added_after_start_is_trusted_without_restart(keys):
    verifier = TokenVerifier(keys)
    ensure_keypair(keys, "affiliation")
    token = TokenSigner(keys / "affiliation.pem").sign(sub="a", role="affiliate", affiliate_id="A1")
    assert verifier.verify(token).affiliate_id == "A1"


@pytest.fixture
def client(keys):
    app = FastAPI()
    app.state.token_verifier = TokenVerifier(keys)
    install_error_handlers(app)
    router = APIRouter()

    @router.get("/admin-only")
    def admin_only(principal: Principal = require("admin")) -> dict:
        return {"sub": principal.sub}

    app.include_router(router)
    return TestClient(app)


def test_no_token_is_401_a_wrong_role_is_403_the_right_role_passes(keys, client):
    signer = TokenSigner(keys / "gateway.pem")
    assert client.get("/admin-only").status_code == 401
    assert client.get("/admin-only").json()["error"]["code"] == "AUTHENTICATION_REQUIRED"
    family = client.get("/admin-only", headers={"Authorization": f"Bearer {signer.sign(sub='f', role='family')}"})
    assert family.status_code == 403
    assert family.json()["error"]["code"] == "FORBIDDEN"
    admin = client.get("/admin-only", headers={"Authorization": f"Bearer {signer.sign(sub='a', role='admin')}"})
    assert admin.json() == {"sub": "a"}

