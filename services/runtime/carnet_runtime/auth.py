"""Bearer tokens (API.md): EdDSA-signed JWTs verified against a directory of public keys.

Gateways sign family, correspondent and admin tokens; the affiliation service signs affiliate
tokens; services sign short service tokens for the one call off the request path (the
notification service fetching a ticket sheet). Each signer has a key pair `<name>.pem` /
`<name>.pub.pem`; a token names its key in the `kid` header.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from .errors import Forbidden, Unauthenticated

ROLES = ("family", "correspondent", "affiliate", "admin", "service")
ALGORITHM = "EdDSA"


@dataclass(frozen=True)
class Principal:
    sub: str
    role: str
    school_id: str | None = None
    affiliate_id: str | None = None

    def is_(self, *roles: str) -> bool:
        return self.role in roles


def ensure_keypair(directory: Path, name: str) -> Path:
    """Create `<name>.pem` and `<name>.pub.pem` under `directory` if missing; return the private key path."""
    directory.mkdir(parents=True, exist_ok=True)
    private_path, public_path = directory / f"{name}.pem", directory / f"{name}.pub.pem"
    if not private_path.exists():
        key = Ed25519PrivateKey.generate()
        private_path.write_bytes(
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        )
        private_path.chmod(0o600)
        public_path.write_bytes(
            key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        )
    return private_path


class TokenSigner:
    def __init__(self, private_key_path: Path):
        self.kid = private_key_path.name.removesuffix(".pem")
        self._key = serialization.load_pem_private_key(private_key_path.read_bytes(), password=None)

    def sign(self, *, sub: str, role: str, ttl_seconds: int = 3600, **claims: Any) -> str:
        if role not in ROLES:
            raise ValueError(f"unknown role {role}")
        now = int(time.time())
        payload = {"sub": sub, "role": role, "iat": now, "exp": now + ttl_seconds}
        payload.update({k: v for k, v in claims.items() if v is not None})
        return jwt.encode(payload, self._key, algorithm=ALGORITHM, headers={"kid": self.kid})


class TokenVerifier:
    def __init__(self, keys_dir: Path):
        self.keys_dir = keys_dir
        self._keys: dict[str, Ed25519PublicKey] = {}
        self.reload()

    def reload(self) -> None:
        keys = {}
        if self.keys_dir.is_dir():
            for path in sorted(self.keys_dir.glob("*.pub.pem")):
                keys[path.name.removesuffix(".pub.pem")] = serialization.load_pem_public_key(path.read_bytes())
        self._keys = keys

    def verify(self, token: str) -> Principal:
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            if kid not in self._keys:
                self.reload()  # a key added since start-up (rotation)
            key = self._keys.get(kid)
            if key is None:
                raise Unauthenticated("TOKEN_INVALID", "Votre session n'est pas reconnue : veuillez vous reconnecter.")
            claims = jwt.decode(token, key, algorithms=[ALGORITHM], options={"require": ["sub", "role", "exp"]})
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("TOKEN_EXPIRED", "Votre session a expiré : veuillez vous reconnecter.") from None
        except jwt.PyJWTError:
            raise Unauthenticated("TOKEN_INVALID", "Votre session n'est pas reconnue : veuillez vous reconnecter.") from None
        role = claims.get("role")
        if role not in ROLES:
            raise Unauthenticated("TOKEN_INVALID", "Votre session n'est pas reconnue : veuillez vous reconnecter.")
        return Principal(
            sub=str(claims["sub"]), role=role, school_id=claims.get("school_id"), affiliate_id=claims.get("affiliate_id")
        )


_bearer = HTTPBearer(auto_error=False)


# Dependencies are `async def` so that FastAPI runs them on the event loop, not in a worker thread.
async def _principal(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthenticated("AUTHENTICATION_REQUIRED", "Veuillez vous identifier pour accéder à ce service.")
    verifier: TokenVerifier = request.app.state.token_verifier
    return verifier.verify(credentials.credentials)


CurrentPrincipal = Annotated[Principal, Depends(_principal)]


def require(*roles: str):
    """A dependency that answers 401 without a valid token and 403 for a role not in `roles`."""

    async def dependency(principal: CurrentPrincipal) -> Principal:
        if roles and principal.role not in roles:
            raise Forbidden("FORBIDDEN", "Vous n'avez pas accès à cette fonction.")
        return principal

    return Depends(dependency)
