"""Logins that can't be used against their owner.

Nothing ever locks an account: a client that fails is slowed, then refused, and only itself.

- Per account: failures on it (from anyone) make every next attempt on it slower, by a bounded
  delay before the password is checked. The rightful owner, who has not failed, is slowed at most
  `max_delay_seconds`, never refused.
- Per client on one account: after `client_account_limit` failures within the window, that client
  is refused on that account (ACCOUNT_LOCKED, 429) until the oldest of them leaves the window.
- Per client across accounts (spraying): after failing on `spray_accounts_limit` distinct logins
  within the window, the client is refused on every login (TOO_MANY_FAILED_LOGINS, 429) for a
  while that doubles with each further login it failed on, up to `spray_block_max`.

A client is an address as the service sees it (`request.client.host`: the peer, or the first
address a configured proxy forwarded). Failures are counted by login as typed, so an unknown login
is slowed and refused exactly like a real one and the answers do not tell them apart.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from carnet_runtime import Refusal

LOGIN_MAX_LENGTH = 200


def normalise_login(typed: str) -> str:
    """Logins are lowercase; what a person typed may have stray spaces or capitals."""
    return typed.strip().lower()[:LOGIN_MAX_LENGTH]


@dataclass(frozen=True)
class LoginPolicy:
    window: timedelta = timedelta(minutes=15)
    slow_after_failures: int = 2
    first_delay_seconds: float = 0.25
    max_delay_seconds: float = 2.0
    client_account_limit: int = 20
    spray_accounts_limit: int = 5
    spray_block: timedelta = timedelta(minutes=1)
    spray_block_max: timedelta = timedelta(minutes=15)


@dataclass(frozen=True)
class LoginHistory:
    """What the last `window` says about one attempt (one login, one client)."""

    account_failures: int = 0  # on this login, from any client
    client_failures: int = 0  # by this client, on any login
    client_accounts: int = 0  # distinct logins this client failed on
    client_last_failure: datetime | None = None
    # this client's failures on this login, newest first (at most `client_account_limit` of them)
    client_account_failures: tuple[datetime, ...] = ()


def failure_delay_seconds(failures: int, policy: LoginPolicy) -> float:
    """Nothing for the first few failures, then doubling with each one, never beyond the cap."""
    extra = failures - policy.slow_after_failures
    if extra <= 0:
        return 0.0
    return min(policy.max_delay_seconds, policy.first_delay_seconds * 2 ** min(extra - 1, 32))


def spray_block(accounts: int, policy: LoginPolicy) -> timedelta:
    """How long a client that failed on `accounts` distinct logins is refused after its last failure."""
    doublings = max(0, accounts - policy.spray_accounts_limit)
    return min(policy.spray_block_max, policy.spray_block * 2 ** min(doublings, 32))


def _seconds_until(moment: datetime, now: datetime) -> int:
    return max(1, math.ceil((moment - now).total_seconds()))


def admit(history: LoginHistory, now: datetime, policy: LoginPolicy) -> float:
    """The delay (seconds) before this attempt's password is checked, or a refusal for this client."""
    if history.client_accounts >= policy.spray_accounts_limit and history.client_last_failure is not None:
        until = history.client_last_failure + spray_block(history.client_accounts, policy)
        if now < until:
            wait = _seconds_until(until, now)
            raise Refusal(
                "TOO_MANY_FAILED_LOGINS",
                "Trop d'essais de connexion infructueux depuis votre poste : réessayez dans quelques minutes.",
                {"retry_after_seconds": wait},
                retry_after=wait,
            )
    if len(history.client_account_failures) >= policy.client_account_limit:
        until = history.client_account_failures[policy.client_account_limit - 1] + policy.window
        if now < until:
            wait = _seconds_until(until, now)
            raise Refusal(
                "ACCOUNT_LOCKED",
                "Trop d'essais de connexion infructueux pour ce compte depuis votre poste : réessayez dans "
                "quelques minutes ou réinitialisez votre mot de passe.",
                {"retry_after_seconds": wait},
                retry_after=wait,
            )
    return max(
        failure_delay_seconds(history.account_failures, policy),
        failure_delay_seconds(history.client_failures, policy),
    )
