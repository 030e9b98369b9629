"""Tokens as an attacker makes them: expired, signed by a key pair not in the keys directory, `alg: none`,
HS256 keyed with a public key, for another audience, or signed by a key that may not sign the role."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from carnet_runtime.auth import ALGORITHM, DEFAULT_SIGNER_ROLES, SERVICE_SIGNER_PREFIX, SERVICES

SIGNERS = ("gateway", "affiliation", *(f"{SERVICE_SIGNER_PREFIX}{s}" for s in SERVICES))


def right_signer(role: str, sub: str) -> str:
    """The local key allowed to sign `role` (carnet_runtime.auth: who signs what)."""
    return {"affiliate": "affiliation", "service": f"{SERVICE_SIGNER_PREFIX}{sub}"}.get(role, "gateway")


def may_sign(signer: str, role: str, sub: str) -> bool:
    if signer.startswith(SERVICE_SIGNER_PREFIX):
        return role == "service" and sub == signer.removeprefix(SERVICE_SIGNER_PREFIX)
    return role in DEFAULT_SIGNER_ROLES.get(signer, ())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _segment(value: dict[str, Any]) -> str:
    return _b64(json.dumps(value, separators=(",", ":")).encode())


class Forger:
    """Signs claims the way the local signers do (`<signer>.pem` of the keys directory, `kid` = signer),
    or the ways they never do."""

    def __init__(self, keys_dir: Path):
        self.keys_dir = keys_dir
        self._keys: dict[str, Any] = {}
        self.foreign_key = Ed25519PrivateKey.generate()  # a key pair nobody put in the keys directory

    @staticmethod
    def claims(role: str, sub: str, *, audience: tuple[str, ...] = SERVICES, ttl_seconds: int = 600,
               **extra: str | None) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {"sub": sub, "role": role, "aud": list(audience), "iat": now, "exp": now + ttl_seconds}
        claims.update({k: v for k, v in extra.items() if v is not None})
        return claims

    def _key(self, signer: str) -> Any:
        if signer not in self._keys:
            self._keys[signer] = serialization.load_pem_private_key((self.keys_dir / f"{signer}.pem").read_bytes(), None)
        return self._keys[signer]

    def signed(self, claims: dict[str, Any], signer: str) -> str:
        return jwt.encode(claims, self._key(signer), algorithm=ALGORITHM, headers={"kid": signer})

    def foreign(self, claims: dict[str, Any], kid: str) -> str:
        """Signed by a key pair that is not in the keys directory, naming a trusted key's id."""
        return jwt.encode(claims, self.foreign_key, algorithm=ALGORITHM, headers={"kid": kid})

    @staticmethod
    def unsigned(claims: dict[str, Any], kid: str) -> str:
        """`alg: none`: no signature at all."""
        return f"{_segment({'alg': 'none', 'typ': 'JWT', 'kid': kid})}.{_segment(claims)}."

    def hmac_with_public_key(self, claims: dict[str, Any], kid: str) -> str:
        """HS256 keyed with the signer's public key file (the classic algorithm confusion)."""
        secret = (self.keys_dir / f"{kid}.pub.pem").read_bytes()
        signing_input = f"{_segment({'alg': 'HS256', 'typ': 'JWT', 'kid': kid})}.{_segment(claims)}"
        signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        return f"{signing_input}.{_b64(signature)}"
