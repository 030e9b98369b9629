"""The organisation use cases on the in-memory unit of work."""

from __future__ import annotations

import pytest

from carnet_contracts import events
from carnet_runtime import Refusal
from carnet_runtime.auth import Principal

from affiliation.application.organisations import ChangeStatus, DirectoryQuery

from .world import World

ADMIN = Principal(sub="staff-1", role="admin")
FAMILY = Principal(sub="family-1", role="family")


@pytest.fixture
def world(tmp_path):
    return World(tmp_path)


async def test_affiliating_publishes_the_invitation_with_a_sealed_token_never_the_clear_one(world):
    created = await world.affiliate()
    [invited] = world.uow.committed
    assert isinstance(invited, events.AffiliateInvited)
    assert (invited.affiliate_id, invited.login) == (created.affiliate_id, created.login)
    token = world.activation_token(created.affiliate_id)
    assert token not in invited.model_dump_json()


async def test_the_same_siret_twice_is_refused_and_publishes_nothing(world):
    await world.affiliate(0)
    with pytest.raises(Refusal) as duplicate:
        await world.affiliate(0, name="Autre club")
    assert duplicate.value.code == "DUPLICATE_SIRET"
    assert len(world.uow.committed) == 1 and len(world.uow.data.affiliates) == 1


async def test_a_new_invitation_retires_the_earlier_link_and_is_refused_once_activated(world):
    created = await world.affiliate()
    first = world.activation_token(created.affiliate_id)
    await world.organisations.reinvite(world.uow, created.affiliate_id)
    assert world.activation_token(created.affiliate_id) != first
    assert world.uow.data.tokens[world.accounts.keyed.of("token", first)].used_at is not None
    activated = await world.activated(1)
    with pytest.raises(Refusal) as refused:
        await world.organisations.reinvite(world.uow, activated.affiliate_id)
    assert refused.value.code == "AFFILIATE_ALREADY_ACTIVATED"


async def test_only_staff_list_organisations_that_are_not_active(world):
    await world.affiliate()
    assert await world.organisations.directory(world.uow, DirectoryQuery(actor=FAMILY)) == []
    assert len(await world.organisations.directory(world.uow, DirectoryQuery(actor=ADMIN, status="invited"))) == 1
    with pytest.raises(Refusal) as refused:
        await world.organisations.directory(world.uow, DirectoryQuery(actor=FAMILY, status="invited"))
    assert refused.value.code == "FORBIDDEN"


async def test_another_affiliates_details_answer_not_found_and_a_familys_forbidden(world):
    created = await world.affiliate()
    other = Principal(sub="x", role="affiliate", affiliate_id="another")
    for actor, code in ((other, "AFFILIATE_NOT_FOUND"), (FAMILY, "FORBIDDEN")):
        with pytest.raises(Refusal) as refused:
            await world.organisations.get(world.uow, actor, created.affiliate_id)
        assert refused.value.code == code


async def test_suspending_an_organisation_not_active_is_refused_and_changes_nothing(world):
    created = await world.affiliate()
    with pytest.raises(Refusal) as refused:
        await world.organisations.suspend(world.uow, ChangeStatus(ADMIN, created.affiliate_id, "192.0.2.1"))
    assert refused.value.code == "AFFILIATE_NOT_ACTIVE"
    assert world.uow.data.audit == [] and len(world.uow.committed) == 1
