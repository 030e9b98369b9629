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
    assert paid_event.schema_version == 2 and paid_event.topic.name == "affiliation.reimbursements"
    assert [t.model_dump() for t in paid_event.transfers] == [
        {"affiliate_id": club.affiliate_id, "amount_cents": 3550, "count": 2}]
    [told] = world.uow.of_type(events.ReimbursementTransferSent)  # the contact, on the notices topic
    assert (told.contact_email, told.amount_cents, told.count, told.batch_id) == (
        club.contact_email, 3550, 2, batch.batch_id)
    assert told.topic.name == "affiliation.notices"
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


def cancellation(line: events.TicketRedeemed, *, by: str = "affiliate") -> events.RedemptionCancelled:
    return events.RedemptionCancelled(
        redemption_id=line.redemption_id, ticket_id=line.ticket_id, wallet_id=line.wallet_id,
        campaign_id=line.campaign_id, affiliate_id=line.affiliate_id, amount_cents=line.amount_cents,
        cancelled_at=line.redeemed_at + timedelta(days=3), cancelled_by_role=by,
        reason="encaissé par erreur" if by == "admin" else None, then="void" if by == "admin" else "redeemable",
    )


async def test_a_late_cancellation_by_staff_takes_the_redemption_out_of_the_pending_statement_and_of_the_next_batch(
    world,
):
    club = await world.affiliate(0)
    await world.campaigns.published(world.uow, campaign("2026"))
    kept, cancelled = (redeemed("2026", club.affiliate_id, cents, world.clock() - timedelta(days=5))
                       for cents in (1000, 700))
    for line in (kept, cancelled):
        await world.reimbursements.ticket_redeemed(world.uow, line)
    await world.reimbursements.redemption_cancelled(world.uow, cancellation(cancelled, by="admin"))
    statement = await world.reimbursements.statement(world.uow, ADMIN, club.affiliate_id, "2026")
    assert (statement.totals.pending_cents, statement.totals.count) == (1000, 1)
    batch = await world.reimbursements.create_batch(world.uow, CreateBatch("staff-1", "2026"))
    assert (batch.total_cents, batch.count) == (1000, 1)


async def test_a_cancellation_arriving_for_a_redemption_already_in_a_batch_is_logged_and_the_line_stays_batched(
    world, caplog,
):
    club = await world.affiliate(0)
    await world.campaigns.published(world.uow, campaign("2026"))
    line = redeemed("2026", club.affiliate_id, 1000, world.clock() - timedelta(days=5))
    await world.reimbursements.ticket_redeemed(world.uow, line)
    batch = await world.reimbursements.create_batch(world.uow, CreateBatch("staff-1", "2026"))
    with caplog.at_level("ERROR"):
        await world.reimbursements.redemption_cancelled(world.uow, cancellation(line, by="admin"))
    assert "already in a reimbursement batch" in caplog.text
    [(stored, batch_id)] = world.uow.data.lines.values()
    assert (stored.status.value, batch_id) == ("batched", batch.batch_id)
    statement = await world.reimbursements.statement(world.uow, ADMIN, club.affiliate_id, "2026")
    assert statement.totals.in_payment_cents == 1000


async def test_the_campaigns_figures_add_up_per_organisation_and_overall_in_one_answer(world):
    from dataclasses import replace

    from affiliation.domain.organisation import AffiliateStatus

    club, theatre = await world.affiliate(0), await world.affiliate(1, name="Théâtre")
    for affiliate in (club, theatre):
        world.uow.data.affiliates[affiliate.affiliate_id] = replace(affiliate, status=AffiliateStatus.ACTIVE)
    await world.campaigns.published(world.uow, campaign("2026"))
    await world.campaigns.published(world.uow, campaign("2025"))
    earlier = world.clock() - timedelta(days=5)
    paid = [redeemed("2026", club.affiliate_id, c, earlier) for c in (1000, 2000)]
    for line in paid:
        await world.reimbursements.ticket_redeemed(world.uow, line)
    first = await world.reimbursements.create_batch(world.uow, CreateBatch("staff-1", "2026"))
    await world.reimbursements.mark_paid(world.uow, first.batch_id)
    await world.reimbursements.ticket_redeemed(world.uow, redeemed("2026", theatre.affiliate_id, 700, earlier))
    await world.reimbursements.create_batch(world.uow, CreateBatch("staff-1", "2026"))
    waiting = redeemed("2026", club.affiliate_id, 500, world.clock())
    cancelled = redeemed("2026", club.affiliate_id, 300, world.clock())
    for line in (waiting, cancelled, redeemed("2025", club.affiliate_id, 9900, earlier)):
        await world.reimbursements.ticket_redeemed(world.uow, line)
    await world.reimbursements.redemption_cancelled(world.uow, cancellation(cancelled))

    figures = await world.reimbursements.figures(world.uow, "2026")
    assert (figures.reimbursed.cents, figures.in_payment.cents, figures.pending.cents) == (3000, 700, 500)
    assert (figures.reimbursed.count, figures.in_payment.count, figures.pending.count) == (2, 1, 1)
    assert (figures.redeemed.cents, figures.cancelled.cents) == (4200, 300)
    assert (figures.batches_paid, figures.batches_in_payment) == (1, 1)
    by_id = {a.affiliate_id: a for a in figures.by_affiliate}
    assert (by_id[club.affiliate_id].reimbursed.cents, by_id[club.affiliate_id].pending.cents) == (3000, 500)
    assert by_id[theatre.affiliate_id].in_payment.cents == 700
    assert sum(a.redeemed.cents for a in figures.by_affiliate) == figures.redeemed.cents
    assert figures.affiliates_by_status == {"active": 2}
    every = await world.reimbursements.figures(world.uow, None)
    assert every.redeemed.cents == 4200 + 9900


async def test_a_redemption_by_an_organisation_unknown_here_still_counts_in_the_figures(world):
    await world.reimbursements.ticket_redeemed(world.uow, redeemed("2026", "unknown", 800, world.clock()))
    figures = await world.reimbursements.figures(world.uow, "2026")
    [row] = figures.by_affiliate
    assert (row.affiliate_id, row.name, row.pending.cents, figures.pending.cents) == ("unknown", None, 800, 800)
