"""The granted passes of a consumer's batch, handled at once (`on_batch`): the same outcome as one
after the other, in the events' order."""

from __future__ import annotations


from carnet_contracts.events import WalletCreated
from wallet.store import PublishedTerms

from .conftest import VALID_UNTIL, granted


async def test_passes_granted_at_once_open_one_wallet_each_and_the_same_application_twice_opens_one(uow, use_cases):
    first, second = granted(), granted(family_sub=None)
    again = first.model_copy(update={"family_sub": "family-someone-else"})

    created = await use_cases.passes_granted(uow, [first, second, again])

    assert [w.application_id for w in created] == [first.application_id, second.application_id]
    assert created[0].owner_sub == "family-1" and created[1].paper  # the first of the application's events counts
    assert [(type(e), e.application_id) for e in uow.committed] == [
        (WalletCreated, first.application_id), (WalletCreated, second.application_id)]


async def test_a_pass_whose_application_has_a_wallet_is_left_out_of_a_batch_and_publishes_nothing(uow, use_cases):
    known = granted()
    await use_cases.pass_granted(uow, known)
    uow.committed.clear()
    new = granted()

    created = await use_cases.passes_granted(uow, [known, new])

    assert [w.application_id for w in created] == [new.application_id]
    assert [e.application_id for e in uow.committed] == [new.application_id]


async def test_passes_of_a_batch_take_their_campaigns_published_terms(uow, use_cases):
    await uow.campaigns.published("2026-2027", PublishedTerms("Pass 26-27 (publié)", VALID_UNTIL, 1000, 5000))
    published, unknown = granted(), granted(campaign_id="2027-2028")

    created = await use_cases.passes_granted(uow, [published, unknown])

    assert [w.terms.label for w in created] == ["Pass 26-27 (publié)", "Pass 2026-2027"]
    assert (created[0].terms.ticket_min_cents, created[1].terms.ticket_min_cents) == (1000, 500)
