"""The affiliate's account: one-time tokens, password rules, hashing, the login throttle."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from .errors import Refusal, field_problems


class TokenPurpose(StrEnum):
    ACTIVATION = "activation"
    PASSWORD_RESET = "password_reset"


def hash_secret(secret: str) -> str:
    """How a one-time token is stored: it has 256 random bits, so a plain SHA-256 cannot be reversed."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    """A freshly drawn token: `clear` goes (sealed) to the e-mail, the rest to the database."""

    clear: str
    token_hash: str
    expires_at: datetime


@dataclass(frozen=True)
class StoredToken:
    purpose: TokenPurpose
    token_hash: str
    expires_at: datetime
    used_at: datetime | None = None


def issue_token(now: datetime, ttl: timedelta) -> IssuedToken:
    clear = secrets.token_urlsafe(32)
    return IssuedToken(clear=clear, token_hash=hash_secret(clear), expires_at=now + ttl)


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


def redeem_token(stored: StoredToken | None, presented: str, now: datetime, purpose: TokenPurpose) -> StoredToken:
    """The token marked used, or a refusal: unknown, already used, or expired."""
    if (
        stored is None
        or stored.purpose is not purpose
        or not hmac.compare_digest(stored.token_hash, hash_secret(presented))
    ):
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
            field_problems({"password": ", ".join(problems)}) | {"problems": problems},
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


@dataclass(frozen=True)
class LoginPolicy:
    """Failures are answered more slowly, then the account locks for a while."""

    lock_after_failures: int = 5
    lock_duration: timedelta = timedelta(minutes=15)
    slow_after_failures: int = 2
    max_delay_seconds: float = 2.0


@dataclass(frozen=True)
class LoginThrottle:
    failed_attempts: int = 0
    locked_until: datetime | None = None

    def check_not_locked(self, now: datetime) -> None:
        if self.locked_until is not None and now < self.locked_until:
            retry_after = max(1, int((self.locked_until - now).total_seconds() + 0.999))
            raise Refusal(
                "ACCOUNT_LOCKED",
                "Trop d'essais de connexion infructueux : le compte est bloqué pour quelques minutes. "
                "Réessayez plus tard ou réinitialisez votre mot de passe.",
                {"retry_after_seconds": retry_after},
            )

    def after_failure(self, now: datetime, policy: LoginPolicy) -> LoginThrottle:
        failures = 1 if self._lock_expired(now) else self.failed_attempts + 1
        if failures >= policy.lock_after_failures:
            return LoginThrottle(failed_attempts=failures, locked_until=now + policy.lock_duration)
        return LoginThrottle(failed_attempts=failures, locked_until=None)

    def after_success(self) -> LoginThrottle:
        return LoginThrottle()

    def failure_delay_seconds(self, policy: LoginPolicy) -> float:
        """How long to hold back the answer to a failed attempt: doubles with each failure."""
        extra = self.failed_attempts - policy.slow_after_failures
        if extra <= 0:
            return 0.0
        return min(policy.max_delay_seconds, 0.25 * 2 ** (extra - 1))

    def _lock_expired(self, now: datetime) -> bool:
        return self.locked_until is not None and now >= self.locked_until
