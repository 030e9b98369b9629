"""Void gives the ticket back, a lost ticket is replaced, the admin corrects a redemption late (issues 14
and 15): the use cases on the in-memory store and unit of work."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from carnet_contracts import events as ev
from carnet_contracts import ticket_code
from carnet_runtime.auth import Principal
from carnet_runtime.errors import RefusalStatuses
from redemption import application
from redemption import domain as d
from redemption.application import LateCorrection
from redemption.refusals import REFUSALS

from .test_application import CAMPAIGN, KEY, Counter, counter, refusal_of  # noqa: F401 (the fixture)

ADMIN = Principal(sub="staff-42", role="admin")


async def void(c: Counter, ticket_id: str) -> None:
    await application.void_ticket(c.uow(), ev.TicketVoidRequested(
        ticket_id=ticket_id, wallet_id="w-1", campaign_id=CAMPAIGN, requested_at=c.now), clock=lambda: c.now)


async def credit_again(c: Counter, ticket_id: str, code: str, amount_cents: int = 1000) -> None:
    await application.credit_ticket(c.uow(), ev.TicketCredited(
        ticket_id=ticket_id, wallet_id="w-1", campaign_id=CAMPAIGN, position=1,
        code_hash=ticket_code.code_hash(code, KEY), code_suffix=code[-4:], amount_cents=amount_cents,
        valid_until=date(2027, 3, 31), credited_at=c.now))


async def replace(c: Counter, ticket_id: str) -> str:
    """Ask to replace the ticket's code; the new code."""
    new = ticket_code.generate()
    await application.replace_ticket(c.uow(), ev.TicketReplaceRequested(
        ticket_id=ticket_id, wallet_id="w-1", campaign_id=CAMPAIGN, new_code_hash=ticket_code.code_hash(new, KEY),
        new_code_suffix=new[-4:], requested_at=c.now), clock=lambda: c.now)
    return new


def code_of(answer) -> str:
    return answer.body["error"]["code"]


# --- void gives the ticket back ------------------------------------------------------------------


async def test_a_voided_ticket_credited_again_is_redeemable_under_its_new_code_and_its_old_code_stays_voided(counter):
    old, ticket_id = await counter.credit(1000)
    await void(counter, ticket_id)
    [voided] = counter.published(ev.TicketVoided)
    assert (voided.ticket_id, voided.amount_cents) == (ticket_id, 1000)
    assert code_of(await counter.redeem(old)) == "TICKET_VOIDED"

    new = ticket_code.generate()
    await credit_again(counter, ticket_id, new, 2000)
    assert code_of(await counter.redeem(old)) == "TICKET_VOIDED"
    check = await counter.scanner.check(counter.store, "aff-a", old)
    assert check.refusal.code == "TICKET_VOIDED"
    won = await counter.redeem(new)
    assert won.status_code == 201 and (won.body["ticket_id"], won.body["amount_cents"]) == (ticket_id, 2000)
    assert code_of(await counter.redeem(old)) == "TICKET_VOIDED"  # even once the ticket is spent


async def test_a_refused_retired_code_names_its_ticket_in_redemption_rejected(counter):
    old, ticket_id = await counter.credit()
    await void(counter, ticket_id)
    await credit_again(counter, ticket_id, ticket_code.generate())
    await counter.redeem(old)
    [rejected] = counter.published(ev.RedemptionRejected)
    assert (rejected.ticket_id, rejected.reason_code) == (ticket_id, "TICKET_VOIDED")


async def test_a_credit_naming_a_retired_code_is_ignored(counter):
    old, ticket_id = await counter.credit()
    await void(counter, ticket_id)
    await credit_again(counter, ticket_id, old)
    assert counter.db.tickets[ticket_id].status is d.TicketStatus.VOIDED
    assert code_of(await counter.redeem(old)) == "TICKET_VOIDED"


# --- replace a lost ticket ------------------------------------------------------------------------


async def test_a_replaced_code_is_refused_ticket_replaced_and_the_new_code_spends_the_same_ticket(counter):
    old, ticket_id = await counter.credit(1500, affiliate_id="aff-a")
    new = await replace(counter, ticket_id)
    [replaced] = counter.published(ev.TicketReplaced)
    assert replaced.ticket_id == ticket_id and replaced.replaced_at == counter.now
    refused = await counter.redeem(old)
    assert refused.status_code == REFUSALS["TICKET_REPLACED"] == 409
    assert code_of(refused) == "TICKET_REPLACED" and "perdu" in refused.body["error"]["message"]
    check = await counter.scanner.check(counter.store, "aff-a", new)
    assert check.refusal is None and (check.code_suffix, check.reserved_for_you) == (new[-4:], True)
    won = await counter.redeem(new)
    assert (won.status_code, won.body["ticket_id"], won.body["amount_cents"]) == (201, ticket_id, 1500)
    [redeemed] = counter.published(ev.TicketRedeemed)
    assert redeemed.code_suffix == new[-4:]
    assert code_of(await counter.redeem(old)) == "TICKET_REPLACED"


async def test_a_ticket_redeemed_before_its_replacement_stays_redeemed_and_the_refusal_says_when_and_by_whom(counter):
    old, ticket_id = await counter.credit()
    redeemed = await counter.redeem(old)
    new = await replace(counter, ticket_id)
    assert counter.published(ev.TicketReplaced) == []
    [refused] = counter.published(ev.TicketReplaceRefused)
    assert refused.reason_code == "TICKET_ALREADY_REDEEMED"
    assert refused.redeemed_at.isoformat() == redeemed.body["redeemed_at"] and refused.affiliate_id == "aff-a"
    assert "avant que son remplacement" in refused.reason
    assert code_of(await counter.redeem(new)) == "TICKET_UNKNOWN"
    assert code_of(await counter.redeem(old, affiliate_id="aff-a")) == "TICKET_ALREADY_REDEEMED"


async def test_a_replacement_landing_between_a_scan_and_its_spend_wins_and_the_scan_is_refused_ticket_replaced(counter):
    old, ticket_id = await counter.credit()

    async def the_family_declares_it_lost():
        await replace(counter, ticket_id)

    counter.store.before_write = the_family_declares_it_lost
    answer = await counter.redeem(old)
    assert code_of(answer) == "TICKET_REPLACED"
    assert len(counter.published(ev.TicketReplaced)) == 1 and counter.published(ev.TicketRedeemed) == []
    assert counter.db.tickets[ticket_id].status is d.TicketStatus.REDEEMABLE


# --- late correction by the admin ---------------------------------------------------------------


async def correct(c: Counter, redemption_id: str, then: d.Then = d.Then.REDEEMABLE, reason: str = "erreur de caisse"):
    return await c.scanner.cancel_as(c.uow(), ADMIN, redemption_id, LateCorrection(reason, then))


async def test_the_admin_cancels_after_the_grace_period_with_a_reason_kept_with_who_and_when(counter):
    code, ticket_id = await counter.credit(1500)
    redemption_id = (await counter.redeem(code)).body["redemption_id"]
    counter.now += timedelta(days=20)
    cancelled = await correct(counter, redemption_id)
    assert cancelled.status is d.RedemptionStatus.CANCELLED and cancelled.cancelled_at == counter.now
    assert (cancelled.cancelled_by_role, cancelled.cancelled_by, cancelled.cancel_reason, cancelled.cancel_then) == (
        d.CancelledBy.ADMIN, "staff-42", "erreur de caisse", d.Then.REDEEMABLE)
    [event] = counter.published(ev.RedemptionCancelled)
    assert (event.cancelled_by_role, event.reason, event.then, event.amount_cents) == (
        "admin", "erreur de caisse", "redeemable", 1500)
    assert counter.published(ev.TicketVoided) == []
    assert (await counter.redeem(code)).status_code == 201  # redeemable again


async def test_the_admin_may_void_the_ticket_instead_its_code_is_retired_and_ticket_voided_follows(counter):
    code, ticket_id = await counter.credit(1500)
    redemption_id = (await counter.redeem(code)).body["redemption_id"]
    counter.db.committed.clear()
    await correct(counter, redemption_id, d.Then.VOID)
    assert [type(e) for e in counter.db.committed] == [ev.RedemptionCancelled, ev.TicketVoided]
    cancelled, voided = counter.db.committed
    assert cancelled.then == "void" and (voided.ticket_id, voided.amount_cents) == (ticket_id, 1500)
    assert counter.db.tickets[ticket_id].status is d.TicketStatus.VOIDED
    assert code_of(await counter.redeem(code)) == "TICKET_VOIDED"
    new = ticket_code.generate()
    await credit_again(counter, ticket_id, new)  # the wallet gives the ticket back; credited anew
    assert (await counter.redeem(new)).status_code == 201


async def test_the_admin_cannot_cancel_once_batched_and_nothing_changes(counter):
    code, ticket_id = await counter.credit()
    redemption_id = (await counter.redeem(code)).body["redemption_id"]
    await application.lock_in_batch(counter.uow(), ev.ReimbursementBatchCreated(
        batch_id="b-1", campaign_id=CAMPAIGN, redemption_ids=[redemption_id], total_cents=1000, count=1,
        created_at=counter.now))
    counter.db.committed.clear()
    refusal = await refusal_of(correct(counter, redemption_id, d.Then.VOID))
    assert refusal.code == "REDEMPTION_IN_REIMBURSEMENT_BATCH" and REFUSALS[refusal.code] == 409
    assert counter.db.committed == [] and counter.db.retired == {}
    assert counter.db.tickets[ticket_id].status is d.TicketStatus.REDEEMED


async def test_the_admin_cancel_is_refused_retryable_and_changes_nothing_while_the_batches_are_not_known(counter):
    code, ticket_id = await counter.credit()
    redemption_id = (await counter.redeem(code)).body["redemption_id"]
    asked: list[str] = []

    async def not_known() -> bool:
        asked.append("barrier")
        return False

    counter.scanner.batches_known = not_known
    counter.db.committed.clear()
    refusal = await refusal_of(correct(counter, redemption_id))
    assert (refusal.code, refusal.retry_after) == ("SERVICE_UNAVAILABLE", application.BATCHES_RETRY_AFTER_SECONDS)
    assert RefusalStatuses(REFUSALS).status(refusal.code) == 503
    assert counter.db.committed == [] and counter.db.tickets[ticket_id].status is d.TicketStatus.REDEEMED
    # the affiliate's own cancel within its grace period stays on the hot path: it never asks
    affiliate = Principal(sub="login-a", role="affiliate", affiliate_id="aff-a")
    cancelled = await counter.scanner.cancel_as(counter.uow(), affiliate, redemption_id, None)
    assert cancelled.status is d.RedemptionStatus.CANCELLED and asked == ["barrier"]


async def test_the_admin_must_give_a_reason_and_cancelling_twice_is_harmless(counter):
    code, _ = await counter.credit()
    redemption_id = (await counter.redeem(code)).body["redemption_id"]
    refusal = await refusal_of(counter.scanner.cancel_as(counter.uow(), ADMIN, redemption_id, None))
    assert refusal.code == "VALIDATION_ERROR" and refusal.details["fields"][0]["field"] == "reason"
    await correct(counter, redemption_id)
    again = await correct(counter, redemption_id, d.Then.VOID)
    assert again.cancel_then is d.Then.REDEEMABLE
    assert len(counter.published(ev.RedemptionCancelled)) == 1 and counter.published(ev.TicketVoided) == []


async def test_the_affiliate_cancel_records_the_affiliate_and_tells_the_same_as_before(counter):
    code, _ = await counter.credit()
    redemption_id = (await counter.redeem(code)).body["redemption_id"]
    affiliate = Principal(sub="login-a", role="affiliate", affiliate_id="aff-a")
    cancelled = await counter.scanner.cancel_as(counter.uow(), affiliate, redemption_id, None)
    assert (cancelled.cancelled_by_role, cancelled.cancelled_by, cancelled.cancel_then) == (
        d.CancelledBy.AFFILIATE, "aff-a", d.Then.REDEEMABLE)
    [event] = counter.published(ev.RedemptionCancelled)
    assert (event.cancelled_by_role, event.reason, event.then) == ("affiliate", None, "redeemable")


@pytest.mark.parametrize("then", list(d.Then))
async def test_the_campaign_purge_forgets_the_admins_account_and_reason_and_keeps_the_rest(counter, then):
    code, _ = await counter.credit()
    redemption_id = (await counter.redeem(code)).body["redemption_id"]
    await correct(counter, redemption_id, then, reason="Mme Martin a appelé")
    await application.purge_campaign(counter.uow(), ev.CampaignPurgeStarted(
        campaign_id=CAMPAIGN, purge_id="p-1", purge_before=counter.now, announced_at=counter.now))
    kept = counter.db.redemptions[redemption_id]
    assert (kept.cancelled_by, kept.cancel_reason) == (None, None)
    assert (kept.cancelled_by_role, kept.cancel_then, kept.amount_cents) == (d.CancelledBy.ADMIN, then, 1000)
