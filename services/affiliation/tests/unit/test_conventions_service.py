"""The convention's use cases on the in-memory unit of work."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest

from carnet_contracts import events
from carnet_contracts.sealing import unseal
from carnet_runtime import Refusal
from carnet_runtime.auth import Principal

from affiliation.application.conventions import TakeStep
from affiliation.domain.convention import OtpPolicy

from .world import DOCUMENT, KEYED, SEAL_KEY, World

POLICY = OtpPolicy(keyed=KEYED, ttl=timedelta(minutes=10), max_attempts=5, max_issues=3,
                   issue_window=timedelta(hours=1))
CLIENT = "192.0.2.10"


@pytest.fixture
def world(tmp_path):
    return World(tmp_path, otp_policy=POLICY)


async def until_code(world) -> tuple[TakeStep, str]:
    affiliate = await world.activated()
    me = Principal(sub=affiliate.login, role="affiliate", affiliate_id=affiliate.affiliate_id)
    step = TakeStep(me, affiliate.affiliate_id, CLIENT)
    await world.conventions.read(world.uow, TakeStep(me, affiliate.affiliate_id, CLIENT, sha256=DOCUMENT.sha256))
    await world.conventions.accept(world.uow, step)
    return step, await send_code(world, step)


async def send_code(world, step: TakeStep) -> str:
    await world.conventions.send_code(world.uow, step)
    sent = world.uow.of_type(events.ConventionOtpIssued)[-1]
    return unseal(sent.sealed_otp, SEAL_KEY)


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


async def test_signing_activates_the_organisation_and_publishes_signed_then_activated(world):
    step, code = await until_code(world)
    taken = await world.conventions.sign(world.uow, TakeStep(step.actor, step.affiliate_id, CLIENT, otp=code))
    assert taken.affiliate.status.value == "active"
    assert [type(e) for e in world.uow.committed[-2:]] == [events.ConventionSigned, events.AffiliateActivated]
    trail = await world.conventions.audit_trail(world.uow, step.affiliate_id)
    assert [(r.action, r.client_address, r.account) for r in trail] == [
        (action, CLIENT, step.actor.sub) for action in ("read", "accept", "otp", "sign")]


async def test_the_code_is_kept_as_a_keyed_hash_and_travels_sealed(world):
    step, code = await until_code(world)
    stored = world.uow.data.affiliates[step.affiliate_id].convention.otp_hash
    assert stored == KEYED.of("otp", step.affiliate_id, code)
    assert hashlib.sha256(f"{step.affiliate_id}:{code}".encode()).hexdigest() not in stored
    assert code not in world.uow.of_type(events.ConventionOtpIssued)[-1].model_dump_json()


async def test_a_wrong_code_is_counted_though_refused_and_a_new_code_does_not_give_more_tries(world):
    step, code = await until_code(world)
    for left in (4, 3):
        with pytest.raises(Refusal) as refused:
            await world.conventions.sign(world.uow, TakeStep(step.actor, step.affiliate_id, CLIENT, otp=wrong(code)))
        assert (refused.value.code, refused.value.details["attempts_left"]) == ("OTP_INVALID", left)
    code = await send_code(world, step)
    with pytest.raises(Refusal) as refused:
        await world.conventions.sign(world.uow, TakeStep(step.actor, step.affiliate_id, CLIENT, otp=wrong(code)))
    assert refused.value.details["attempts_left"] == 2


async def test_codes_past_the_hours_limit_are_refused_with_the_wait_until_the_window_ends(world):
    step, _ = await until_code(world)
    for _ in range(POLICY.max_issues - 1):
        world.clock.advance(minutes=5)
        await send_code(world, step)
    sent = len(world.uow.committed)
    with pytest.raises(Refusal) as refused:
        await world.conventions.send_code(world.uow, step)
    assert refused.value.code == "OTP_LIMIT_REACHED"
    assert refused.value.retry_after == 50 * 60 and refused.value.details["retry_after_seconds"] == 50 * 60
    assert len(world.uow.committed) == sent  # nothing sent, nothing recorded
    world.clock.advance(seconds=refused.value.retry_after)
    code = await send_code(world, step)
    taken = await world.conventions.sign(world.uow, TakeStep(step.actor, step.affiliate_id, CLIENT, otp=code))
    assert taken.affiliate.status.value == "active"


async def test_another_affiliate_cannot_take_a_step_of_this_convention(world):
    step, code = await until_code(world)
    other = Principal(sub="x", role="affiliate", affiliate_id="another")
    with pytest.raises(Refusal) as refused:
        await world.conventions.sign(world.uow, TakeStep(other, step.affiliate_id, CLIENT, otp=code))
    assert refused.value.code == "AFFILIATE_NOT_FOUND"
