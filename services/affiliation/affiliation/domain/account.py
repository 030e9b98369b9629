"""The affiliate's account: one-time links (activation, password reset), password rules, hashing."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from carnet_runtime import Refusal, field_errors

from .keyed_hash import KeyedHash


class TokenPurpose(StrEnum):
    ACTIVATION = "activation"
    PASSWORD_RESET = "password_reset"


def token_hashes(token: str, keyed: KeyedHash) -> list[str]:
    """The digests a presented token may be stored under: keyed, or (a link e-mailed before keyed
    hashing, live at most a week after migration 0002) its plain SHA-256."""
    return [keyed.of("token", token), _unkeyed(token)]


def _unkeyed(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    """A freshly drawn token: `clear` goes (sealed) to the e-mail, the rest to the database."""

    clear: str
    token_hash: str
    expires_at: datetime


@dataclass(frozen=True)
class StoredToken:
    affiliate_id: str
    purpose: TokenPurpose
    token_hash: str
    expires_at: datetime
    used_at: datetime | None = None


def issue_token(now: datetime, ttl: timedelta, keyed: KeyedHash) -> IssuedToken:
    clear = secrets.token_urlsafe(32)
    return IssuedToken(clear=clear, token_hash=keyed.of("token", clear), expires_at=now + ttl)


_TOKEN_INVALID = {
    TokenPurpose.ACTIVATION: (
        "ACTIVATION_TOKEN_INVALID",
        "Ce lien d'activation n'est pas valide ou a déjà servi. Demandez un nouveau lien au Département.",
    ),
    TokenPurpose.PASSWORD_RESET: (
        "RESET_TOKEN_INVALID",
        "Ce lien de réinitialisation n'est pas valide ou a déjà servi. Faites une nouvelle demande.",
    ),
}
_TOKEN_EXPIRED = {
    TokenPurpose.ACTIVATION: (
        "ACTIVATION_TOKEN_EXPIRED",
        "Ce lien d'activation a expiré. Demandez un nouveau lien au Département.",
    ),
    TokenPurpose.PASSWORD_RESET: (
        "RESET_TOKEN_EXPIRED",
        "Ce lien de réinitialisation a expiré. Faites une nouvelle demande.",
    ),
}


def _matches(stored: StoredToken, presented: str, keyed: KeyedHash) -> bool:
    if stored.token_hash.startswith(KeyedHash.PREFIX):
        return keyed.matches(stored.token_hash, "token", presented)
    return hmac.compare_digest(stored.token_hash, _unkeyed(presented))


def redeem_token(
    stored: StoredToken | None, presented: str, now: datetime, purpose: TokenPurpose, keyed: KeyedHash
) -> StoredToken:
    """The token marked used, or a refusal: unknown, already used, or expired."""
    if stored is None or stored.purpose is not purpose or not _matches(stored, presented, keyed):
        raise Refusal(*_TOKEN_INVALID[purpose], {"token": "invalid"})
    if stored.used_at is not None:
        raise Refusal(*_TOKEN_INVALID[purpose], {"token": "already_used"})
    if now >= stored.expires_at:
        raise Refusal(*_TOKEN_EXPIRED[purpose], {"token": "expired"})
    return replace(stored, used_at=now)


PASSWORD_MIN_LENGTH = 12
PASSWORD_MAX_LENGTH = 256
_COMMON_WORDS = ("password", "motdepasse", "azerty", "qwerty", "123456", "soleil", "bonjour")


def password_weaknesses(password: str, login: str) -> list[str]:
    """What makes a password too weak; empty when it is strong enough."""
    problems: list[str] = []
    if len(password) < PASSWORD_MIN_LENGTH:
        problems.append("too_short")
    if len(password) > PASSWORD_MAX_LENGTH:
        problems.append("too_long")
    kinds = sum(
        (
            any(c.islower() for c in password),
            any(c.isupper() for c in password),
            any(c.isdigit() for c in password),
            any(not c.isalnum() for c in password),
        )
    )
    if kinds < 3:
        problems.append("too_few_kinds")
    if len(set(password)) < 6:
        problems.append("too_repetitive")
    lowered = password.lower()
    if login and login.lower() in lowered:
        problems.append("contains_login")
    if any(word in lowered for word in _COMMON_WORDS):
        problems.append("too_common")
    return problems


def check_password_strength(password: str, login: str) -> None:
    problems = password_weaknesses(password, login)
    if problems:
        raise Refusal(
            "WEAK_PASSWORD",
            f"Le mot de passe est trop faible : au moins {PASSWORD_MIN_LENGTH} caractères, "
            "dont trois sortes parmi minuscules, majuscules, chiffres et symboles, "
            "sans votre identifiant ni un mot courant.",
            field_errors({"password": ", ".join(problems)}) | {"problems": problems},
        )


class PasswordHashing:
    """argon2id; the cost is a setting so that tests can run it cheaply."""

    def __init__(self, time_cost: int = 3, memory_cost_kib: int = 65536, parallelism: int = 4) -> None:
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_cost_kib, parallelism=parallelism)
        # an unknown login still pays for one verification, so timing does not tell logins apart
        self._decoy = self._hasher.hash(secrets.token_urlsafe(16))

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash or self._decoy, password) and password_hash is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        return self._hasher.check_needs_rehash(password_hash)
