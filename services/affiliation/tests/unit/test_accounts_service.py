"""The account use cases on the in-memory unit of work: activation, login and its throttle, reset."""

from __future__ import annotations

import pytest

from carnet_runtime import Refusal
from carnet_runtime.auth import TokenVerifier

from affiliation.application.accounts import LogIn, SetPassword
from affiliation.domain.login import LoginPolicy

from .world import STRONG, World

POLICY = LoginPolicy()  # the settings' defaults: 20 failures per client and account, 5 accounts per client


@pytest.fixture
def world(tmp_path):
    return World(tmp_path, login_policy=POLICY)


async def test_activation_sets_the_password_opens_the_convention_and_the_link_works_once(world):
    created = await world.affiliate()
    token = world.activation_token(created.affiliate_id)
    activated = await world.accounts.activate(world.uow, SetPassword(token, STRONG))
    assert activated.status.value == "convention_pending" and activated.password_hash.startswith("$argon2id$")
    with pytest.raises(Refusal) as reused:
        await world.accounts.activate(world.uow, SetPassword(token, STRONG))
    assert reused.value.code == "ACTIVATION_TOKEN_INVALID"


async def test_a_weak_password_changes_nothing_and_the_link_still_works(world):
    created = await world.affiliate()
    token = world.activation_token(created.affiliate_id)
    with pytest.raises(Refusal) as weak:
        await world.accounts.activate(world.uow, SetPassword(token, "motdepasse"))
    assert weak.value.code == "WEAK_PASSWORD"
    assert world.uow.data.affiliates[created.affiliate_id].password_hash is None
    assert (await world.accounts.activate(world.uow, SetPassword(token, STRONG))).password_hash


async def test_an_activation_token_is_stored_keyed_never_in_clear_nor_as_a_plain_hash(world):
    import hashlib

    created = await world.affiliate()
    token = world.activation_token(created.affiliate_id)
    stored = list(world.uow.data.tokens)
    assert stored == [world.accounts.keyed.of("token", token)]
    assert token not in stored[0] and hashlib.sha256(token.encode()).hexdigest() not in stored[0]


async def test_the_right_password_gives_an_affiliate_token_for_this_service_and_the_scanner(world, tmp_path):
    affiliate = await world.activated()
    token = await world.accounts.log_in(world.uow, LogIn(affiliate.login.upper() + " ", STRONG, "192.0.2.10"))
    for audience in ("affiliation", "redemption"):
        principal = TokenVerifier(tmp_path, audience=audience).verify(token.token)
        assert (principal.role, principal.affiliate_id, principal.sub) == ("affiliate", affiliate.affiliate_id,
                                                                          affiliate.login)
    assert token.expires_in == 3600


async def test_a_wrong_password_and_an_unknown_login_get_the_same_refusal(world):
    affiliate = await world.activated()
    for login in (affiliate.login, "nobody-here-k7m4p"):
        with pytest.raises(Refusal) as refused:
            await world.accounts.log_in(world.uow, LogIn(login, "Mauvais-92-mdp", "192.0.2.10"))
        assert (refused.value.code, refused.value.details) == ("INVALID_CREDENTIALS", {})


async def fail(world, login: str, client: str, times: int) -> None:
    for _ in range(times):
        with pytest.raises(Refusal) as refused:
            await world.accounts.log_in(world.uow, LogIn(login, "Mauvais-92-mdp", client))
        assert refused.value.code == "INVALID_CREDENTIALS"
        world.clock.advance(seconds=1)


async def test_the_owner_gets_in_after_an_attackers_many_failures_only_held_back_a_bounded_time(world):
    affiliate = await world.activated()
    await fail(world, affiliate.login, "203.0.113.66", POLICY.client_account_limit)
    # the attacker is refused on this account, even with the right password, and told when to come back
    with pytest.raises(Refusal) as locked:
        await world.accounts.log_in(world.uow, LogIn(affiliate.login, STRONG, "203.0.113.66"))
    assert locked.value.code == "ACCOUNT_LOCKED" and 0 < locked.value.retry_after <= 15 * 60
    assert locked.value.details["retry_after_seconds"] == locked.value.retry_after
    # the owner, from elsewhere, is slowed (the account had failures) but gets in
    world.sleeps.delays.clear()
    token = await world.accounts.log_in(world.uow, LogIn(affiliate.login, STRONG, "192.0.2.10"))
    assert token.token
    assert world.sleeps.delays == [POLICY.max_delay_seconds]


async def test_failures_on_an_account_slow_its_next_attempts_more_and_more_up_to_the_cap(world):
    affiliate = await world.activated()
    await fail(world, affiliate.login, "203.0.113.66", 8)
    delays = world.sleeps.delays
    # the attempts after the first three failures are held back: 0.25 s, doubling, at most 2 s
    assert delays == [0.25, 0.5, 1.0, 2.0, 2.0]
    assert all(a <= b for a, b in zip(delays, delays[1:], strict=False))


async def test_the_refusal_on_one_account_ends_by_itself_when_the_failures_leave_the_window(world):
    affiliate = await world.activated()
    await fail(world, affiliate.login, "203.0.113.66", POLICY.client_account_limit)
    with pytest.raises(Refusal) as locked:
        await world.accounts.log_in(world.uow, LogIn(affiliate.login, STRONG, "203.0.113.66"))
    world.clock.advance(seconds=locked.value.retry_after)
    assert (await world.accounts.log_in(world.uow, LogIn(affiliate.login, STRONG, "203.0.113.66"))).token


async def test_a_client_spraying_accounts_is_slowed_then_refused_everywhere_for_longer_and_longer(world):
    logins = [f"club-{n}-abcde" for n in range(POLICY.spray_accounts_limit + 2)]  # unknown logins count too
    spray = "198.51.100.7"
    for login in logins[: POLICY.spray_accounts_limit]:
        await fail(world, login, spray, 1)
    assert world.sleeps.delays == [0.25, 0.5]  # its own failures slow it, whatever the account
    with pytest.raises(Refusal) as first:
        await world.accounts.log_in(world.uow, LogIn(logins[-1], "Mauvais-92-mdp", spray))
    assert first.value.code == "TOO_MANY_FAILED_LOGINS"
    # the block ends by itself; one more account failed and the next one is longer
    world.clock.advance(seconds=first.value.retry_after)
    await fail(world, logins[-2], spray, 1)
    with pytest.raises(Refusal) as second:
        await world.accounts.log_in(world.uow, LogIn(logins[-1], "Mauvais-92-mdp", spray))
    assert second.value.code == "TOO_MANY_FAILED_LOGINS" and second.value.retry_after > first.value.retry_after
    # another client is not concerned
    with pytest.raises(Refusal) as other:
        await world.accounts.log_in(world.uow, LogIn(logins[-1], "Mauvais-92-mdp", "192.0.2.10"))
    assert other.value.code == "INVALID_CREDENTIALS"


async def test_the_right_password_forgives_the_clients_own_typos_but_not_an_attackers_failures(world):
    affiliate = await world.activated()
    await fail(world, affiliate.login, "192.0.2.10", 2)
    await fail(world, affiliate.login, "203.0.113.66", 3)
    await world.accounts.log_in(world.uow, LogIn(affiliate.login, STRONG, "192.0.2.10"))
    assert sorted({client for _, client, _ in world.uow.data.failures}) == ["203.0.113.66"]


async def test_a_reset_link_sets_a_new_password_and_is_requested_alike_for_unknown_logins(world):
    from carnet_contracts import events
    from carnet_contracts.sealing import unseal

    from .world import SEAL_KEY

    affiliate = await world.activated()
    before = len(world.uow.committed)
    await world.accounts.request_reset(world.uow, "nobody-here")
    assert len(world.uow.committed) == before
    await world.accounts.request_reset(world.uow, affiliate.contact_email.upper())
    [requested] = world.uow.of_type(events.PasswordResetRequested)
    token = unseal(requested.sealed_reset_token, SEAL_KEY)
    assert token not in requested.model_dump_json()
    changed = await world.accounts.confirm_reset(world.uow, SetPassword(token, "Nouveau mot de passe 2027 !"))
    assert changed.status == affiliate.status
    with pytest.raises(Refusal) as old:
        await world.accounts.log_in(world.uow, LogIn(affiliate.login, STRONG, "192.0.2.10"))
    assert old.value.code == "INVALID_CREDENTIALS"
