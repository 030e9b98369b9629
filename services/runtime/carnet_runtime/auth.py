"""Bearer tokens (API.md, Authentication): EdDSA-signed JWTs verified against a directory of public keys.

Who signs what. A key's name says which signer it belongs to: `<signer>.pub.pem`, or
`<signer>@<label>.pub.pem` while keys are rotated (two keys of one signer trusted side by side), and
a token names its key in its `kid` header. Each signer may sign only its roles:

| signer | roles |
|---|---|
| `gateway` | family, correspondent, admin (the family, school and staff portals) |
| `affiliation` | affiliate (after a password login) |
| `service.<name>` | service, and only with `sub` = `<name>`: the one service-to-service call it needs |

(`CARNET_JWT_SIGNER_ROLES` can bind other signer names, e.g. a second gateway for schools only.)
Every token names the services it is for in `aud`; a service refuses a token that does not name
it. A key removed from the directory stops being trusted at the next refresh (at most
`CARNET_JWT_KEYS_REFRESH_SECONDS`, 15 s by default).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from .errors import Refusal

ROLES = ("family", "correspondent", "affiliate", "admin", "service")
ALGORITHM = "EdDSA"
SERVICES = ("enrolment", "wallet", "redemption", "affiliation", "notification")
SERVICE_SIGNER_PREFIX = "service."
DEFAULT_SIGNER_ROLES: dict[str, tuple[str, ...]] = {
    "gateway": ("family", "correspondent", "admin"),
    "affiliation": ("affiliate",),
}

_NOT_RECOGNISED = "Votre session n'est pas reconnue : veuillez vous reconnecter."


def not_authenticated(code: str = "TOKEN_INVALID", message: str = _NOT_RECOGNISED) -> Refusal:
    return Refusal(code, message)


def forbidden(message: str = "Vous n'avez pas accès à cette fonction.", code: str = "FORBIDDEN") -> Refusal:
    return Refusal(code, message)


@dataclass(frozen=True)
class Principal:
    sub: str
    role: str
    school_id: str | None = None
    affiliate_id: str | None = None
    signer: str | None = None
    scopes: tuple[str, ...] = ()


def signer_of(kid: str) -> str:
    """The signer a key belongs to: `gateway@2027-01` -> `gateway`."""
    return kid.split("@", 1)[0]


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

    def sign(self, *, sub: str, role: str, audience: Sequence[str], ttl_seconds: int = 3600, **claims: Any) -> str:
        if role not in ROLES:
            raise ValueError(f"unknown role {role}")
        if not audience:
            raise ValueError("a token names the services it is for")
        now = int(time.time())
        payload = {"sub": sub, "role": role, "aud": list(audience), "iat": now, "exp": now + ttl_seconds}
        payload.update({k: v for k, v in claims.items() if v is not None})
        return jwt.encode(payload, self._key, algorithm=ALGORITHM, headers={"kid": self.kid})


class ServiceTokens:
    """The service tokens one service signs with its own key (`service.<name>.pem`): short-lived,
    for one other service and one call (`scope`)."""

    def __init__(self, service: str, private_key_path: Path, ttl_seconds: int = 300):
        self.service = service
        self.signer = TokenSigner(private_key_path)
        if signer_of(self.signer.kid) != f"{SERVICE_SIGNER_PREFIX}{service}":
            raise ValueError(f"the {service} service signs with a key named {SERVICE_SIGNER_PREFIX}{service}[@label].pem, "
                             f"not {private_key_path.name}")
        self.ttl_seconds = ttl_seconds

    def for_call(self, audience: str, scope: str) -> str:
        return self.signer.sign(sub=self.service, role="service", audience=[audience], scope=scope,
                                ttl_seconds=self.ttl_seconds)


class TokenVerifier:
    """Verifies tokens for one service against the public keys of `keys_dir`, rereading the folder
    every `refresh_seconds` so that an added key is trusted and a removed one is not."""

    def __init__(self, keys_dir: Path, *, audience: str, signer_roles: Mapping[str, Iterable[str]] | None = None,
                 refresh_seconds: float = 15.0):
        self.keys_dir = keys_dir
        self.audience = audience
        self.signer_roles = {k: frozenset(v) for k, v in (signer_roles or DEFAULT_SIGNER_ROLES).items()}
        self.refresh_seconds = refresh_seconds
        self.generation = 0  # changes whenever the set of trusted keys changes (for caches of verified tokens)
        self._keys: dict[str, tuple[float, Ed25519PublicKey]] = {}
        self._scanned_at = float("-inf")
        self._unknown_kid_scan_at = float("-inf")
        self.reload()

    def reload(self) -> None:
        keys: dict[str, tuple[float, Ed25519PublicKey]] = {}
        if self.keys_dir.is_dir():
            for path in sorted(self.keys_dir.glob("*.pub.pem")):
                kid = path.name.removesuffix(".pub.pem")
                try:
                    mtime = path.stat().st_mtime
                    known = self._keys.get(kid)
                    keys[kid] = known if known and known[0] == mtime else (mtime, serialization.load_pem_public_key(path.read_bytes()))
                except (OSError, ValueError):
                    continue  # a file being replaced: the next scan takes it
        if {k: v[0] for k, v in keys.items()} != {k: v[0] for k, v in self._keys.items()}:
            self.generation += 1
        self._keys = keys
        self._scanned_at = time.monotonic()

    def refresh_if_due(self) -> None:
        if time.monotonic() - self._scanned_at >= self.refresh_seconds:
            self.reload()

    def may_sign(self, kid: str, role: str, sub: str) -> bool:
        signer = signer_of(kid)
        if signer.startswith(SERVICE_SIGNER_PREFIX):
            return role == "service" and sub == signer.removeprefix(SERVICE_SIGNER_PREFIX)
        return role in self.signer_roles.get(signer, ())

    def verify(self, token: str) -> Principal:
        self.refresh_if_due()
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            if not isinstance(kid, str):
                raise not_authenticated()
            if kid not in self._keys and time.monotonic() - self._unknown_kid_scan_at >= 1.0:
                self._unknown_kid_scan_at = time.monotonic()  # a key added since the last scan (rotation)
                self.reload()
            known = self._keys.get(kid)
            if known is None:
                raise not_authenticated()
            claims = jwt.decode(token, known[1], algorithms=[ALGORITHM], audience=self.audience,
                                options={"require": ["sub", "role", "exp", "aud"]})
        except jwt.ExpiredSignatureError:
            raise not_authenticated("TOKEN_EXPIRED", "Votre session a expiré : veuillez vous reconnecter.") from None
        except jwt.PyJWTError:
            raise not_authenticated() from None
        role, sub = claims.get("role"), str(claims["sub"])
        if role not in ROLES or not self.may_sign(kid, role, sub):
            raise not_authenticated()
        scope = claims.get("scope")
        return Principal(
            sub=sub, role=role, school_id=_text(claims.get("school_id")), affiliate_id=_text(claims.get("affiliate_id")),
            signer=signer_of(kid), scopes=tuple(scope.split()) if isinstance(scope, str) else (),
        )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


_bearer = HTTPBearer(auto_error=False)


def bearer_token(credentials: HTTPAuthorizationCredentials | None) -> str:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise not_authenticated("AUTHENTICATION_REQUIRED", "Veuillez vous identifier pour accéder à ce service.")
    return credentials.credentials


# Dependencies are `async def` so that FastAPI runs them on the event loop, not in a worker thread.
async def _principal(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> Principal:
    verifier: TokenVerifier = request.app.state.token_verifier
    return verifier.verify(bearer_token(credentials))


CurrentPrincipal = Annotated[Principal, Depends(_principal)]


def require(*roles: str, service_scope: str | None = None):
    """A dependency that answers 401 without a valid token and 403 for a role not in `roles`.
    A `service` token is accepted only when `roles` names it and it carries `service_scope`."""

    async def dependency(principal: CurrentPrincipal) -> Principal:
        if roles and principal.role not in roles:
            raise forbidden()
        if principal.role == "service" and (service_scope is None or service_scope not in principal.scopes):
            raise forbidden()
        return principal

    return Depends(dependency)
