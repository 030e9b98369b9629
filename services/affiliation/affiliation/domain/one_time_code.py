"""Six-digit codes e-mailed to an organisation's contact to confirm an act: signing the convention,
changing the IBAN. The same rules for both.

A code is kept as a keyed hash (`KeyedHash`) of what it confirms (the purpose, the organisation, and
for an IBAN change the new IBAN): a code confirms that act and no other. Within `issue_window` from
the first code, at most `max_issues` codes are sent and at most `max_attempts` wrong codes are tried,
whatever the number of codes: a new code never gives more tries. Past either limit, a new code is
refused until the window ends (OTP_LIMIT_REACHED, with the wait). After the last allowed wrong try
the live code is burnt: even the right one answers OTP_EXPIRED.
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from carnet_runtime import Refusal

from .keyed_hash import KeyedHash


@dataclass(frozen=True, kw_only=True)
class OtpPolicy:
    keyed: KeyedHash  # the key codes are kept under
    ttl: timedelta = timedelta(minutes=10)
    max_attempts: int = 5  # wrong codes tried within the window, whatever the number of codes
    max_issues: int = 5  # codes sent within the window
    issue_window: timedelta = timedelta(hours=1)


@dataclass(frozen=True)
class CodeState:
    """The live code (its keyed hash, never the code) and the window's counts."""

    code_hash: str | None = None
    expires_at: datetime | None = None
    failed_attempts: int = 0
    issues: int = 0
    window_started_at: datetime | None = None


def _window_open(state: CodeState, at: datetime, policy: OtpPolicy) -> bool:
    started = state.window_started_at
    return started is not None and at < started + policy.issue_window


def issue(state: CodeState, at: datetime, policy: OtpPolicy, *confirms: str) -> tuple[CodeState, str]:
    """A new code replacing any earlier one, within the window's limits; `confirms` names the act
    (purpose, organisation, ...). The clear code is returned to be sealed, never stored; the wrong
    tries already made still count."""
    if _window_open(state, at, policy):
        issues, failures, started = state.issues, state.failed_attempts, state.window_started_at
    else:
        issues, failures, started = 0, 0, at
    if issues >= policy.max_issues or failures >= policy.max_attempts:
        wait = max(1, math.ceil((started + policy.issue_window - at).total_seconds()))
        raise Refusal(
            "OTP_LIMIT_REACHED",
            f"Trop de codes demandés ou d'essais : vous pourrez demander un nouveau code dans "
            f"{math.ceil(wait / 60)} minute(s).",
            {"retry_after_seconds": wait, "codes_sent": issues, "wrong_attempts": failures},
            retry_after=wait,
        )
    code = f"{secrets.randbelow(10**6):06d}"
    new = CodeState(
        code_hash=policy.keyed.of(*confirms, code),
        expires_at=at + policy.ttl,
        failed_attempts=failures,
        issues=issues + 1,
        window_started_at=started,
    )
    return new, code


def check(state: CodeState, code: str, at: datetime, policy: OtpPolicy, *confirms: str) -> tuple[CodeState, Refusal | None]:
    """The code typed against the live one. A wrong code is refused but counted (the count must be
    kept, hence the state returned with the refusal instead of a raise); the right one is used up."""
    if state.code_hash is None or state.expires_at is None or at >= state.expires_at:
        raise Refusal("OTP_EXPIRED", "Le code reçu par courriel a expiré. Demandez un nouveau code.", {"otp": "expired"})
    if not policy.keyed.matches(state.code_hash, *confirms, code.strip()):
        failures = state.failed_attempts + 1
        attempts_left = max(0, policy.max_attempts - failures)
        burnt = attempts_left == 0
        new = replace(
            state,
            failed_attempts=failures,
            code_hash=None if burnt else state.code_hash,
            expires_at=None if burnt else state.expires_at,
        )
        message = (
            "Le code saisi n'est pas le bon. Trop d'essais : demandez un nouveau code d'ici une heure."
            if burnt
            else "Le code saisi n'est pas le bon. Vérifiez le code reçu par courriel."
        )
        return new, Refusal("OTP_INVALID", message, {"otp": "invalid", "attempts_left": attempts_left})
    return replace(state, code_hash=None, expires_at=None), None
