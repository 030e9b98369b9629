"""Families' data in affiliation (issue 13): a campaign's purge and a family's erasure leave the
organisations' statements and the figures as they were, without the link to any wallet."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from carnet_contracts import events
from carnet_runtime.auth import Principal

from .test_reimbursements_service import campaign, redeemed
from .world import World

ADMIN = Principal(sub="staff-1", role="admin")


@pytest.fixture
def world(tmp_path):
    return World(tmp_path)


def credited(campaign_id: str, affiliate_id: str, wallet_id: str) -> events.TicketCredited:
    return events.TicketCredited(
        ticket_id=str(uuid.uuid4()), wallet_id=wallet_id, campaign_id=campaign_id, position=1, code_hash="h" * 64,
        code_suffix="AB7K", amount_cents=900, affiliate_id=affiliate_id, valid_until=date(2027, 3, 31),
        credited_at=datetime(2026, 9, 1, tzinfo=UTC))


async def test_a_campaigns_purge_forgets_its_assigned_tickets_and_keeps_the_statements_and_figures(world):
    club = await world.affiliate()
    await world.campaigns.published(world.uow, campaign("2026"))
    for campaign_id in ("2026", "2027"):
        await world.reimbursements.ticket_credited(world.uow, credited(campaign_id, club.affiliate_id, "w1"))
    await world.reimbursements.ticket_redeemed(world.uow, redeemed("2026", club.affiliate_id, 1000,
                                                                   world.clock() - timedelta(days=2)))
    before = await world.reimbursements.figures(world.uow, "2026")
    statement = await world.reimbursements.statement(world.uow, ADMIN, club.affiliate_id, "2026")
    published = len(world.uow.committed)

    await world.privacy.campaign_purged(world.uow, events.CampaignPurgeStarted(
        campaign_id="2026", purge_id="p1", purge_before=world.clock(), announced_at=world.clock()))

    assert [t.campaign_id for t in world.uow.data.assigned.values()] == ["2027"]
    assert await world.reimbursements.figures(world.uow, "2026") == before
    assert await world.reimbursements.statement(world.uow, ADMIN, club.affiliate_id, "2026") == statement
    assert len(world.uow.committed) == published  # nothing to tell anyone


async def test_an_erasure_unlinks_the_familys_wallets_and_the_organisations_keep_their_amounts(world):
    club = await world.affiliate()
    await world.reimbursements.ticket_credited(world.uow, credited("2026", club.affiliate_id, "erased-wallet"))
    await world.reimbursements.ticket_credited(world.uow, credited("2026", club.affiliate_id, "other-wallet"))
    await world.reimbursements.ticket_redeemed(world.uow, redeemed("2026", club.affiliate_id, 700, world.clock()))

    await world.privacy.guardian_erased(world.uow, events.GuardianErasureRequested(
        erasure_id="e1", application_ids=["a1"], wallet_ids=["erased-wallet"], family_subs=["family-1"],
        campaign_ids=["2026"], requested_at=world.clock()))

    assert sorted(str(t.wallet_id) for t in world.uow.data.assigned.values()) == ["None", "other-wallet"]
    statement = await world.reimbursements.statement(world.uow, ADMIN, club.affiliate_id, "2026")
    assert statement.totals.pending_cents == 700
    assert len(await world.reimbursements.assigned_tickets(world.uow, ADMIN, club.affiliate_id)) == 2
