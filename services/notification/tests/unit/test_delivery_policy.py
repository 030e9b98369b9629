from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from notification.domain import (
    Accepted,
    Delivery,
    IllegalTransition,
    Impossible,
    MessageState,
    Refused,
    RetryPolicy,
    Unreachable,
    campaign_ends,
    end_of_paris_day,
    forget_at,
    redact,
)

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
POLICY = RetryPolicy(
    first_delay=timedelta(seconds=10),
    factor=2,
    max_delay=timedelta(minutes=15),
    give_up_after=timedelta(days=3),
)


def attempt(delivery: Delivery, outcome, now=NOW) -> Delivery:
    return delivery.start(now).conclude(outcome, now, POLICY)


def test_accepted_message_is_sent_after_one_attempt():
    d = attempt(Delivery(), Accepted())
    assert d.state is MessageState.SENT
    assert d.attempts == 1
    assert d.sent_at == NOW


def test_connection_error_schedules_a_retry_after_the_first_delay():
    d = attempt(Delivery(), Unreachable("Connection refused"))
    assert d.state is MessageState.PENDING
    assert d.next_attempt_at == NOW + timedelta(seconds=10)
    assert "injoignable" in d.last_error
    assert not d.is_due(NOW)
    assert d.is_due(NOW + timedelta(seconds=10))


def test_temporary_smtp_refusal_4xx_is_retried():
    d = attempt(Delivery(), Refused(451, "4.3.0 try again later"))
    assert d.state is MessageState.PENDING
    assert d.last_error.startswith("451")


def test_permanent_smtp_refusal_5xx_fails_with_the_reason():
    d = attempt(Delivery(), Refused(550, "5.1.1 <jean@example.fr>: mailbox unknown"))
    assert d.state is MessageState.FAILED
    assert d.last_error == "550 5.1.1 <[adresse]>: mailbox unknown"
    assert d.next_attempt_at is None


def test_impossible_message_fails_at_once_with_the_reason():
    d = attempt(Delivery(), Impossible("feuille de tickets refusée par le porte-monnaie (404)"))
    assert d.state is MessageState.FAILED
    assert "404" in d.last_error


def test_temporary_trouble_becomes_failure_after_give_up_delay():
    d = Delivery().start(NOW).conclude(Unreachable("down"), NOW, POLICY)
    later = NOW + POLICY.give_up_after
    d = d.start(later).conclude(Unreachable("still down"), later, POLICY)
    assert d.state is MessageState.FAILED
    assert d.attempts == 2
    assert "abandon après 2 tentatives" in d.last_error


def test_sent_message_cannot_be_sent_again():
    d = attempt(Delivery(), Accepted())
    with pytest.raises(IllegalTransition):
        d.start(NOW)


def test_message_not_due_cannot_be_started():
    d = attempt(Delivery(), Unreachable("down"))
    with pytest.raises(IllegalTransition):
        d.start(NOW)


def test_no_outcome_without_an_attempt_in_progress():
    with pytest.raises(IllegalTransition):
        Delivery().conclude(Accepted(), NOW, POLICY)


def test_backoff_doubles_then_stops_at_the_maximum():
    delays = [POLICY.delay(n).total_seconds() for n in range(1, 10)]
    assert delays[:4] == [10, 20, 40, 80]
    assert delays[-1] == 15 * 60


@settings(max_examples=60)
@given(attempts=st.integers(min_value=1, max_value=500), spread=st.floats(0, 0.999))
def test_backoff_stays_between_first_delay_less_jitter_and_max_delay(attempts, spread):
    d = POLICY.delay(attempts, spread)
    assert POLICY.first_delay * (1 - POLICY.jitter) <= d <= POLICY.max_delay
    assert POLICY.delay(attempts) <= POLICY.delay(attempts + 1)


outcomes = st.one_of(
    st.just(Accepted()),
    st.builds(Unreachable, st.text(max_size=20)),
    st.builds(Refused, st.integers(400, 599), st.text(max_size=20)),
    st.builds(Impossible, st.text(max_size=20)),
)


@settings(max_examples=60)
@given(st.lists(st.tuples(outcomes, st.integers(0, 7200)), max_size=12))
def test_delivery_history_ends_once_and_counts_every_attempt(steps):
    d, now, tries = Delivery(), NOW, 0
    for outcome, wait in steps:
        now = max(now + timedelta(seconds=wait), d.next_attempt_at or now)
        if d.state is not MessageState.PENDING:
            with pytest.raises(IllegalTransition):
                d.start(now)
            continue
        d = d.start(now).conclude(outcome, now, POLICY)
        tries += 1
        assert d.attempts == tries
        assert (d.state is MessageState.SENT) == isinstance(outcome, Accepted)
        if isinstance(outcome, Refused) and outcome.code >= 500:
            assert d.state is MessageState.FAILED
        if d.state is MessageState.PENDING:
            assert d.next_attempt_at > now


def test_redact_removes_addresses_from_smtp_replies():
    assert redact("550 <lea.martin@example.fr> unknown, also bob@x.org") == (
        "550 <[adresse]> unknown, also [adresse]"
    )


def test_personal_data_is_forgotten_n_days_after_the_campaign_last_paris_day():
    # 30 April ends at midnight Paris time (22:00 UTC in summer time)
    assert end_of_paris_day(date(2027, 4, 30)) == datetime(2027, 4, 30, 22, 0, tzinfo=UTC)
    when = forget_at(date(2027, 4, 30), NOW, retention_days=30, without_campaign_days=365)
    assert when == datetime(2027, 5, 30, 22, 0, tzinfo=UTC)


def test_message_outside_any_campaign_is_forgotten_after_its_own_delay():
    assert forget_at(None, NOW, retention_days=30, without_campaign_days=365) == NOW + timedelta(
        days=365
    )


def test_campaign_ends_with_the_later_of_validity_and_reimbursements():
    assert campaign_ends(date(2027, 3, 31), date(2027, 4, 30)) == date(2027, 4, 30)
    assert campaign_ends(date(2027, 3, 31), None) == date(2027, 3, 31)
    assert campaign_ends(None, None) is None
