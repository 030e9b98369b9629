"""Statements and batches on the in-memory unit of work, fed by the other services' events."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from carnet_contracts import events
from carnet_runtime import Refusal
from carnet_runtime.auth import Principal

from affiliation.application.reimbursements import CreateBatch

from .world import World

ADMIN = Principal(sub="staff-1", role="admin")


@pytest.fixture
def world(tmp_path):
    return World(tmp_path)


def campaign(campaign_id: str) -> events.CampaignPublished:
    return events.CampaignPublished(
        campaign_id=campaign_id, label=campaign_id, enrolment_opens=date(2026, 6, 1),
        enrolment_closes=date(2026, 11, 30), pass_valid_until=date(2027, 3, 31),
        reimbursement_deadline=date(2027, 4, 30), allowance_cents=7000, tickets_per_pass=7, ticket_min_cents=500,
        ticket_max_cents=7000, eligible_postcode_prefixes=["92"], eligible_levels=["6e", "5e", "4e", "3e"],
        redemption_cancel_grace_minutes=30,
    )


def redeemed(campaign_id: str, affiliate_id: str, cents: int, at: datetime) -> events.TicketRedeemed:
    return events.TicketRedeemed(
        redemption_id=str(uuid.uuid4()), ticket_id=str(uuid.uuid4()), wallet_id="w1", campaign_id=campaign_id,
        affiliate_id=affiliate_id, amount_cents=cents, code_suffix="AB7K", redeemed_at=at,
    )


async def test_a_batch_takes_the_waiting_lines_marks_them_batched_and_publishes_their_ids(world):
    club = await world.affiliate(0)
    await world.campaigns.published(world.uow, campaign("2026"))
    lines = [redeemed("2026", club.affiliate_id, cents, world.clock() - timedelta(hours=1)) for cents in (1000, 2550)]
    for line in lines:
        await world.reimbursements.ticket_redeemed(world.uow, line)
    batch = await world.reimbursements.create_batch(world.uow, CreateBatch("staff-1"))  # the only campaign waiting
    assert (batch.campaign_id, batch.total_cents, batch.count) == ("2026", 3550, 2)
    assert batch.execution_date == date(2026, 6, 4)
    [created] = world.uow.of_type(events.ReimbursementBatchCreated)
    assert sorted(created.redemption_ids) == sorted(line.redemption_id for line in lines)
    statement = await world.reimbursements.statement(world.uow, ADMIN, club.affiliate_id, "2026")
    assert (statement.totals.in_payment_cents, statement.totals.pending_cents) == (3550, 0)
    files = await world.reimbursements.files(world.uow, batch.batch_id)
    assert b"pain.001.001.03" in files.sepa_xml and len(files.transfers_csv.splitlines()) == 2

    paid = await world.reimbursements.mark_paid(world.uow, batch.batch_id)
    assert paid.status.value == "paid"
    [paid_event] = world.uow.of_type(events.ReimbursementBatchPaid)
    assert paid_event.transfers[0].contact_email == club.contact_email
    with pytest.raises(Refusal) as twice:
        await world.reimbursements.mark_paid(world.uow, batch.batch_id)
    assert twice.value.code == "BATCH_ALREADY_PAID"


async def test_nothing_waiting_is_refused_and_publishes_nothing(world):
    with pytest.raises(Refusal) as refused:
        await world.reimbursements.create_batch(world.uow, CreateBatch("staff-1"))
    assert refused.value.code == "NOTHING_TO_REIMBURSE" and world.uow.committed == []


async def test_an_execution_date_in_the_past_is_refused(world):
    with pytest.raises(Refusal) as refused:
        await world.reimbursements.create_batch(world.uow, CreateBatch("staff-1", "2026", date(2020, 1, 1)))
    assert refused.value.code == "VALIDATION_ERROR"
    assert refused.value.details["fields"] == [{"field": "execution_date", "problem": "in the past"}]


async def test_a_cancelled_redemption_leaves_the_statement_and_its_ticket_shows_credited_again(world):
    club = await world.affiliate(0)
    line = redeemed("2026", club.affiliate_id, 900, datetime(2026, 2, 1, tzinfo=UTC))
    await world.reimbursements.ticket_credited(world.uow, events.TicketCredited(
        ticket_id=line.ticket_id, wallet_id="w1", campaign_id="2026", position=1, code_hash="h" * 64,
        code_suffix="AB7K", amount_cents=900, affiliate_id=club.affiliate_id, valid_until=date(2027, 3, 31),
        credited_at=datetime(2026, 1, 1, tzinfo=UTC)))
    await world.reimbursements.ticket_redeemed(world.uow, line)
    [ticket] = await world.reimbursements.assigned_tickets(world.uow, ADMIN, club.affiliate_id)
    assert ticket.redeemed_at == line.redeemed_at
    await world.reimbursements.redemption_cancelled(world.uow, events.RedemptionCancelled(
        redemption_id=line.redemption_id, ticket_id=line.ticket_id, wallet_id="w1", campaign_id="2026",
        affiliate_id=club.affiliate_id, amount_cents=900, cancelled_at=datetime(2026, 2, 1, 0, 5, tzinfo=UTC)))
    statement = await world.reimbursements.statement(world.uow, ADMIN, club.affiliate_id, None)
    assert (statement.totals.count, statement.totals.redeemed_cents) == (0, 0)
    [ticket] = await world.reimbursements.assigned_tickets(world.uow, ADMIN, club.affiliate_id)
    assert ticket.redeemed_at is None


async def test_on_a_campaigns_opening_day_each_active_organisation_is_reminded_once(world):
    from dataclasses import replace

    from affiliation.domain.organisation import AffiliateStatus

    club = await world.affiliate(0)
    world.uow.data.affiliates[club.affiliate_id] = replace(club, status=AffiliateStatus.ACTIVE)
    await world.campaigns.published(world.uow, campaign("2026"))
    assert await world.campaigns.remind_due(world.uow) == 1
    assert await world.campaigns.remind_due(world.uow) == 0
    assert await world.campaigns.remind(world.uow, "2026") == 0
    [reminded] = world.uow.of_type(events.AffiliateLoginReminded)
    assert (reminded.login, reminded.campaign_id) == (club.login, "2026")
    with pytest.raises(Refusal) as unknown:
        await world.campaigns.remind(world.uow, "1999")
    assert unknown.value.code == "UNKNOWN_CAMPAIGN"
