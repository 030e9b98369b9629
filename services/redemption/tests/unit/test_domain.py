from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from redemption import domain as d

NOW = datetime(2027, 1, 15, 13, 0, tzinfo=UTC)
LIMIT = d.GuessingLimit(max_unknown_codes=5, window=timedelta(minutes=5))
ACTIVE = d.Affiliate("aff-a", active=True)


def a_ticket(**changes) -> d.Ticket:
    base = d.Ticket(
        ticket_id="t-1", wallet_id="w-1", campaign_id="2026-2027", amount_cents=1000, valid_until=date(2027, 3, 31)
    )
    return d.Ticket(**{**base.__dict__, **changes})


def refusal_of(call) -> d.Refusal:
    with pytest.raises(d.Refusal) as caught:
        call()
    return caught.value


def test_a_credited_ticket_is_redeemable_by_an_active_affiliate():
    ticket = a_ticket()
    assert d.check_redemption(ticket, ACTIVE, "aff-a", NOW, LIMIT) is ticket


def test_an_unknown_code_is_refused_with_ticket_unknown():
    refusal = refusal_of(lambda: d.check_redemption(None, ACTIVE, "aff-a", NOW, LIMIT))
    assert refusal.code == "TICKET_UNKNOWN"
    assert "Vérifiez le code" in refusal.message


def test_an_already_redeemed_ticket_says_when_in_paris_time():
    spent, _ = d.redeem(a_ticket(), "aff-b", "r-1", datetime(2027, 1, 10, 16, 5, tzinfo=UTC))
    refusal = refusal_of(lambda: d.check_redemption(spent, ACTIVE, "aff-a", NOW, LIMIT))
    assert refusal.code == "TICKET_ALREADY_REDEEMED"
    assert "10/01/2027 à 17 h 05" in refusal.message  # UTC+1 in winter
    assert "un autre organisme" in refusal.message
    assert refusal.details["redeemed_at"] == "2027-01-10T16:05:00+00:00"


def test_a_ticket_is_valid_through_the_end_of_its_last_paris_day():
    ticket = a_ticket(valid_until=date(2027, 3, 31))
    last_minute = datetime(2027, 3, 31, 21, 59, tzinfo=UTC)  # 23:59 in Paris (summer time)
    assert d.check_redemption(ticket, ACTIVE, "aff-a", last_minute, LIMIT) is ticket
    refusal = refusal_of(lambda: d.check_redemption(ticket, ACTIVE, "aff-a", last_minute + timedelta(minutes=1), LIMIT))
    assert refusal.code == "TICKET_EXPIRED"
    assert "depuis le 01/04/2027" in refusal.message
    assert refusal.details["valid_until"] == "2027-03-31"


def test_a_voided_ticket_is_refused():
    refusal = refusal_of(
        lambda: d.check_redemption(a_ticket(status=d.TicketStatus.VOIDED), ACTIVE, "aff-a", NOW, LIMIT)
    )
    assert refusal.code == "TICKET_VOIDED"


def test_a_ticket_reserved_for_another_affiliate_is_refused_but_not_for_its_own():
    ticket = a_ticket(reserved_for="aff-b")
    refusal = refusal_of(lambda: d.check_redemption(ticket, ACTIVE, "aff-a", NOW, LIMIT))
    assert refusal.code == "TICKET_RESERVED_FOR_OTHER_AFFILIATE"
    assert d.check_redemption(ticket, d.Affiliate("aff-b", True), "aff-b", NOW, LIMIT) is ticket


@pytest.mark.parametrize("affiliate", [None, d.Affiliate("aff-a", active=False)])
def test_an_affiliate_not_active_learns_nothing_about_the_ticket(affiliate):
    refusal = refusal_of(lambda: d.check_redemption(None, affiliate, "aff-a", NOW, LIMIT))
    assert refusal.code == "AFFILIATE_NOT_ACTIVE"


def test_a_key_used_for_another_request_is_refused():
    d.check_same_request("fp", "fp")
    assert refusal_of(lambda: d.check_same_request("fp", "other")).code == "IDEMPOTENCY_KEY_REUSED"


def test_a_malformed_code_names_the_field():
    refusal = d.code_malformed("the check symbol does not match")
    assert refusal.code == "CODE_MALFORMED"
    assert refusal.details["fields"][0]["field"] == "ticket_code"


def test_every_refusal_speaks_french_to_a_person():
    spent, redemption = d.redeem(a_ticket(), "aff-a", "r-1", NOW)
    refusals = [
        d.code_malformed("x"),
        d.ticket_unknown(),
        d.ticket_already_redeemed(spent, "aff-a"),
        d.ticket_expired(a_ticket()),
        d.ticket_voided(),
        d.ticket_reserved_for_other_affiliate(),
        d.affiliate_not_active(),
        d.idempotency_key_reused(),
        d.too_many_unknown_codes(timedelta(seconds=30), NOW),
        d.redemption_unknown(),
        d.redemption_of_other_affiliate(),
        d.cancel_period_over(redemption, timedelta(minutes=30)),
        d.redemption_in_reimbursement_batch(),
        d.void_refused_spent(spent),
    ]
    for refusal in refusals:
        assert refusal.code.isupper()
        assert refusal.message.endswith(".")
        assert "ticket" in refusal.message.lower() or "encaissement" in refusal.message.lower()


# --- cancel ---


def test_the_affiliate_who_redeemed_can_cancel_within_the_grace_period_and_the_ticket_is_redeemable_again():
    spent, redemption = d.redeem(a_ticket(), "aff-a", "r-1", NOW)
    grace = d.Campaign("c", redemption_cancel_grace_minutes=30).cancel_grace
    assert d.check_cancel(redemption, "aff-a", grace, NOW + timedelta(minutes=29)) is True
    cancelled, ticket = d.cancel(redemption, spent, NOW + timedelta(minutes=29))
    assert cancelled.status is d.RedemptionStatus.CANCELLED
    assert ticket.status is d.TicketStatus.REDEEMABLE and ticket.redeemed_at is None
    assert d.check_redemption(ticket, ACTIVE, "aff-a", NOW, LIMIT) == ticket


def test_cancel_is_refused_once_the_grace_period_is_over():
    _, redemption = d.redeem(a_ticket(), "aff-a", "r-1", NOW)
    refusal = refusal_of(lambda: d.check_cancel(redemption, "aff-a", timedelta(minutes=30), NOW + timedelta(minutes=30)))
    assert refusal.code == "CANCEL_PERIOD_OVER"
    assert "30 minutes" in refusal.message


def test_the_grace_period_defaults_to_thirty_minutes_without_a_campaign():
    assert d.cancel_grace(None) == timedelta(minutes=30)


def test_only_the_affiliate_who_redeemed_can_cancel():
    _, redemption = d.redeem(a_ticket(), "aff-a", "r-1", NOW)
    assert refusal_of(lambda: d.check_cancel(redemption, "aff-b", timedelta(minutes=30), NOW)).code == (
        "REDEMPTION_OF_OTHER_AFFILIATE"
    )
    assert refusal_of(lambda: d.check_cancel(None, "aff-a", timedelta(minutes=30), NOW)).code == "REDEMPTION_UNKNOWN"


def test_a_redemption_in_a_reimbursement_batch_can_never_be_cancelled():
    _, redemption = d.redeem(a_ticket(), "aff-a", "r-1", NOW)
    locked = d.lock_in_batch(redemption, "batch-1")
    refusal = refusal_of(lambda: d.check_cancel(locked, "aff-a", timedelta(minutes=30), NOW))
    assert refusal.code == "REDEMPTION_IN_REIMBURSEMENT_BATCH"


def test_cancelling_twice_changes_nothing_the_second_time():
    spent, redemption = d.redeem(a_ticket(), "aff-a", "r-1", NOW)
    cancelled, _ = d.cancel(redemption, spent, NOW)
    assert d.check_cancel(cancelled, "aff-a", timedelta(minutes=30), NOW) is False


# --- void requests and wallet events ---


def test_a_void_request_voids_a_ticket_not_spent():
    decision = d.void(a_ticket())
    assert decision.voided and decision.ticket.status is d.TicketStatus.VOIDED


def test_a_void_request_on_a_spent_ticket_is_refused_with_when():
    spent, _ = d.redeem(a_ticket(), "aff-a", "r-1", NOW)
    decision = d.void(spent)
    assert not decision.voided
    assert decision.refusal.code == "TICKET_ALREADY_REDEEMED"
    assert decision.ticket == spent


def test_a_spent_ticket_stays_spent_whatever_the_wallet_credits():
    spent, _ = d.redeem(a_ticket(), "aff-a", "r-1", NOW)
    assert d.apply_credited(spent, a_ticket(amount_cents=7000)) == spent
    voided = d.void(a_ticket()).ticket
    assert d.apply_credited(voided, a_ticket(amount_cents=700)).status is d.TicketStatus.REDEEMABLE


# --- the guessing limiter ---


def test_an_affiliate_is_throttled_after_the_maximum_of_unknown_codes_in_a_burst():
    tat = None
    for _ in range(LIMIT.max_unknown_codes):
        assert LIMIT.retry_after(tat, NOW) is None
        tat = LIMIT.after_unknown_code(tat, NOW)
    wait = LIMIT.retry_after(tat, NOW)
    assert wait == LIMIT.interval
    refusal = refusal_of(lambda: d.check_redemption(a_ticket(), d.Affiliate("aff-a", True, tat), "aff-a", NOW, LIMIT))
    assert refusal.code == "TOO_MANY_UNKNOWN_CODES"
    assert refusal.details["retry_after_seconds"] == 60
    assert LIMIT.retry_after(tat, NOW + wait) is None


@settings(max_examples=60, deadline=None)
@given(gaps=st.lists(st.integers(min_value=0, max_value=400), min_size=1, max_size=60))
def test_the_limiter_never_lets_more_than_the_burst_plus_the_pace_of_unknown_codes_through(gaps):
    """Whatever the timing, over any span t at most max + t/interval unknown codes are answered."""
    tat, now, accepted = None, NOW, []
    for gap in gaps:
        now += timedelta(seconds=gap)
        if LIMIT.retry_after(tat, now) is None:
            accepted.append(now)
            tat = LIMIT.after_unknown_code(tat, now)
    for i, start in enumerate(accepted):
        for j in range(i, len(accepted)):
            span = accepted[j] - start
            assert j - i + 1 <= LIMIT.max_unknown_codes + span / LIMIT.interval
