"""Accounts: activation, login (with its throttle), password reset."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from prometheus_client import Histogram

from carnet_contracts import events
from carnet_runtime import Refusal
from carnet_runtime.auth import TokenSigner

from ..domain.account import (
    PasswordHashing,
    TokenPurpose,
    check_password_strength,
    redeem_token,
    token_hashes,
)
from ..domain.keyed_hash import KeyedHash
from ..domain.login import LoginPolicy, admit, normalise_login
from ..domain.organisation import Affiliate
from .common import Clock, Seal, UnitOfWork, load, stored_token, utc_now

log = logging.getLogger(__name__)

LOGIN_DELAYED = Histogram(
    "carnet_affiliation_login_delay_seconds",
    "Delay before a login's password is checked, after failures on the account or by the client",
    buckets=(0.25, 0.5, 1.0, 2.0, 4.0),
)
# A client whose address is not known (no peer: an in-process test client) counts as one client.
UNKNOWN_CLIENT = "unknown"
# Failed logins are kept this long at most (the longest window they count in is shorter).
LOGIN_FAILURES_KEPT = timedelta(days=1)


class AffiliateTokens:
    """The access tokens affiliates get after a login: signed with the affiliation key, for this
    service's pages and the scanner."""

    AUDIENCE = ("affiliation", "redemption")

    def __init__(self, signer: TokenSigner, ttl_seconds: int) -> None:
        self.signer = signer
        self.ttl_seconds = ttl_seconds

    def issue(self, affiliate: Affiliate) -> str:
        return self.signer.sign(sub=affiliate.login, role="affiliate", audience=self.AUDIENCE,
                                ttl_seconds=self.ttl_seconds, affiliate_id=affiliate.affiliate_id)


@dataclass(frozen=True)
class SetPassword:
    """The first password (activation link) or a new one (reset link)."""

    token: str
    password: str
    affiliate_id: str | None = None  # when the link's page knows it: the token must be that account's
    client_address: str | None = None


@dataclass(frozen=True)
class LogIn:
    """An organisation logs in; failures are throttled by login and by client address."""

    login: str
    password: str
    client_address: str | None


@dataclass(frozen=True)
class AccessToken:
    """A bearer token for the affiliate API and its lifetime in seconds."""

    token: str
    expires_in: int


def wrong_credentials() -> Refusal:
    return Refusal("INVALID_CREDENTIALS", "Identifiant ou mot de passe incorrect.")


class Accounts:
    def __init__(
        self,
        *,
        hashing: PasswordHashing,
        keyed: KeyedHash,
        seal: Seal,
        tokens: AffiliateTokens,
        login_policy: LoginPolicy,
        reset_ttl: timedelta,
        clock: Clock = utc_now,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.hashing = hashing
        self.keyed = keyed
        self.seal = seal
        self.tokens = tokens
        self.login_policy = login_policy
        self.reset_ttl = reset_ttl
        self.clock = clock
        self.sleep = sleep

    async def activate(self, uow: UnitOfWork, command: SetPassword) -> Affiliate:
        affiliate = await self._set_password(uow, command, TokenPurpose.ACTIVATION)
        log.info("affiliate account activated", extra={"affiliate_id": affiliate.affiliate_id})
        return affiliate

    async def confirm_reset(self, uow: UnitOfWork, command: SetPassword) -> Affiliate:
        affiliate = await self._set_password(uow, command, TokenPurpose.PASSWORD_RESET)
        log.info("affiliate password reset", extra={"affiliate_id": affiliate.affiliate_id})
        return affiliate

    async def _set_password(self, uow: UnitOfWork, command: SetPassword, purpose: TokenPurpose) -> Affiliate:
        now = self.clock()
        async with uow:
            stored = await uow.tokens.find(token_hashes(command.token, self.keyed), command.affiliate_id)
            used = redeem_token(stored, command.token, now, purpose, self.keyed)
            affiliate = await load(uow, used.affiliate_id, for_update=True)
            check_password_strength(command.password, affiliate.login)
            password_hash = await asyncio.to_thread(self.hashing.hash, command.password)
            await uow.tokens.mark_used(used)
            affiliate = affiliate.with_password(password_hash, now, activating=purpose is TokenPurpose.ACTIVATION)
            await uow.affiliates.save_account(affiliate, now)
            if command.client_address:  # who holds the mailbox is forgiven their own typos
                await uow.login_failures.forget(affiliate.login, command.client_address)
        return affiliate

    async def log_in(self, uow: UnitOfWork, command: LogIn) -> AccessToken:
        """A token for the right password. Before the password is checked, the attempt is admitted
        (or refused to this client) and held back as failures on the account and by the client
        require (domain/login.py); it counts as a failure until the password proves right."""
        login = normalise_login(command.login)
        client = command.client_address or UNKNOWN_CLIENT
        policy = self.login_policy
        now = self.clock()
        async with uow:
            await uow.login_failures.lock_client(client)
            history = await uow.login_failures.history(login, client, now - policy.window, policy.client_account_limit)
            delay = admit(history, now, policy)  # or a refusal (429) for this client
            await uow.login_failures.record(login, client, now)
            affiliate = await uow.affiliates.by_login(login)
        if delay > 0:
            LOGIN_DELAYED.observe(delay)
            await self.sleep(delay)
        password_hash = affiliate.password_hash if affiliate else None
        right = await asyncio.to_thread(self.hashing.verify, password_hash, command.password)
        if affiliate is None or password_hash is None or not right:
            raise wrong_credentials()
        async with uow:
            await uow.login_failures.forget(login, client)
            if self.hashing.needs_rehash(password_hash):
                new_hash = await asyncio.to_thread(self.hashing.hash, command.password)
                await uow.affiliates.save_account(affiliate.with_password(new_hash, now, activating=False), now)
        log.info("affiliate logged in", extra={"affiliate_id": affiliate.affiliate_id})
        return AccessToken(self.tokens.issue(affiliate), self.tokens.ttl_seconds)

    async def request_reset(self, uow: UnitOfWork, identifier: str) -> None:
        """A reset link e-mailed to an activated account named by its login or contact e-mail; the
        caller answers the same whether or not it exists."""
        now = self.clock()
        async with uow:
            affiliate = await uow.affiliates.by_login_or_email(identifier)
            if affiliate is None or affiliate.password_hash is None:
                return
            issued = await stored_token(uow, self.keyed, affiliate.affiliate_id, TokenPurpose.PASSWORD_RESET,
                                        self.reset_ttl, now)
            uow.publish(
                events.PasswordResetRequested(
                    affiliate_id=affiliate.affiliate_id,
                    login=affiliate.login,
                    contact_email=affiliate.contact_email,
                    sealed_reset_token=self.seal(issued.clear),
                    expires_at=issued.expires_at,
                )
            )

    async def purge_login_failures(self, uow: UnitOfWork) -> int:
        async with uow:
            return await uow.login_failures.purge(self.clock() - LOGIN_FAILURES_KEPT)
