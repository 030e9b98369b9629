"""The money committed as of a day: every cent credited by then is in exactly one of outstanding,
expired unspent and redeemed, whatever the tickets' dates (hypothesis on the pure part)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from wallet.domain import HeldGroup, commitments, cutoff

START = datetime(2026, 6, 1, tzinfo=UTC)
DAYS = 400


@st.composite
def a_ticket(draw):
    """(amount, valid_until, credited_at, redeemed_at or None)."""
    credited_at = START + timedelta(minutes=draw(st.integers(0, DAYS * 24 * 60)))
    redeemed = draw(st.booleans())
    redeemed_at = credited_at + timedelta(minutes=draw(st.integers(0, 200 * 24 * 60))) if redeemed else None
    valid_until = date(2027, 3, 31) + timedelta(days=draw(st.integers(-60, 60)))
    return draw(st.integers(500, 7000)), valid_until, credited_at, redeemed_at


days = st.dates(min_value=date(2026, 5, 1), max_value=date(2027, 12, 31))


@given(tickets=st.lists(a_ticket(), max_size=40), as_of=days)
@settings(max_examples=300)
def test_every_cent_credited_by_the_day_is_outstanding_expired_unspent_or_redeemed(tickets, as_of):
    found = commitments([HeldGroup.of_ticket(*t, as_of) for t in tickets], as_of)
    end = cutoff(as_of)
    credited_by = [t for t in tickets if t[2] < end]
    assert found.credited_cents == sum(t[0] for t in credited_by)
    assert found.outstanding_cents + found.expired_unspent_cents + found.redeemed_cents == found.credited_cents
    assert found.redeemed_cents == sum(t[0] for t in credited_by if t[3] is not None and t[3] < end)
    assert found.expired_unspent_cents == sum(t[0] for t in credited_by
                                              if (t[3] is None or t[3] >= end) and t[1] < as_of)
    assert sum(s.cents for s in found.by_valid_until) == found.outstanding_cents
    assert sum(s.tickets for s in found.by_valid_until) == found.outstanding_tickets
    assert all(s.valid_until >= as_of for s in found.by_valid_until)
    assert found.outstanding_tickets + found.expired_unspent_tickets + found.redeemed_tickets == len(credited_by)


@given(tickets=st.lists(a_ticket(), max_size=30), first=days, gap=st.integers(0, 200))
@settings(max_examples=200)
def test_a_later_day_has_never_less_redeemed_nor_less_credited(tickets, first, gap):
    later = first + timedelta(days=gap)
    before = commitments([HeldGroup.of_ticket(*t, first) for t in tickets], first)
    after = commitments([HeldGroup.of_ticket(*t, later) for t in tickets], later)
    assert after.redeemed_cents >= before.redeemed_cents
    assert after.credited_cents >= before.credited_cents
    assert after.redeemed_cents + after.expired_unspent_cents >= before.redeemed_cents + before.expired_unspent_cents


@given(tickets=st.lists(a_ticket(), max_size=30), as_of=days)
def test_grouping_tickets_changes_no_figure(tickets, as_of):
    """The store sums tickets by (validity end, credited by, redeemed by): the figures are the same."""
    singles = [HeldGroup.of_ticket(*t, as_of) for t in tickets]
    grouped: dict[tuple, list[int]] = {}
    for g in singles:
        entry = grouped.setdefault((g.valid_until, g.credited_by_cutoff, g.redeemed_by_cutoff), [0, 0])
        entry[0] += g.cents
        entry[1] += g.tickets
    summed = [HeldGroup(*key, cents, count) for key, (cents, count) in grouped.items()]
    assert commitments(summed, as_of) == commitments(singles, as_of)


def test_a_pass_is_outstanding_on_its_last_day_and_expired_the_next():
    ticket = (1000, date(2027, 3, 31), START, None)
    on_last = commitments([HeldGroup.of_ticket(*ticket, date(2027, 3, 31))], date(2027, 3, 31))
    next_day = commitments([HeldGroup.of_ticket(*ticket, date(2027, 4, 1))], date(2027, 4, 1))
    assert (on_last.outstanding_cents, on_last.expired_unspent_cents) == (1000, 0)
    assert (next_day.outstanding_cents, next_day.expired_unspent_cents) == (0, 1000)


def test_a_ticket_redeemed_after_the_day_was_still_outstanding_then():
    redeemed_at = datetime(2027, 2, 1, 9, 0, tzinfo=UTC)
    ticket = (1000, date(2027, 3, 31), START, redeemed_at)
    assert commitments([HeldGroup.of_ticket(*ticket, date(2027, 1, 31))], date(2027, 1, 31)).outstanding_cents == 1000
    assert commitments([HeldGroup.of_ticket(*ticket, date(2027, 2, 1))], date(2027, 2, 1)).redeemed_cents == 1000
