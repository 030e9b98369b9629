"""Redeem, retry, cancel, void and expire in any order: never spent twice, amounts conserved.

The book below composes the domain's rules the way the store does (check, then one
transition, then the answer kept under the idempotency key); the machine compares it
with a model that only remembers which ticket is spent by whom.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, initialize, invariant, rule

from redemption import domain as d

START = datetime(2027, 3, 28, 9, 0, tzinfo=UTC)
AFFILIATES = {"aff-a": True, "aff-b": True, "aff-c": False}
GRACE = timedelta(minutes=30)


class Book:
    """An in-memory stand-in for the store, made only of domain calls."""

    def __init__(self) -> None:
        self.tickets: dict[str, d.Ticket] = {}
        self.redemptions: dict[str, d.Redemption] = {}
        self.answers: dict[tuple[str, str], tuple[str, tuple]] = {}
        self.affiliates = {a: d.Affiliate(a, active) for a, active in AFFILIATES.items()}
        self.events: list[tuple[str, str]] = []
        self.limit = d.GuessingLimit(max_unknown_codes=1000)
        self.now = START

    def redeem(self, affiliate_id: str, key: str, code: str) -> tuple:
        stored = self.answers.get((affiliate_id, key))
        if stored is not None:
            d.check_same_request(stored[0], code)
            return stored[1]
        try:
            ticket = d.check_redemption(
                self.tickets.get(code), self.affiliates[affiliate_id], affiliate_id, self.now, self.limit
            )
        except d.Refusal as refusal:
            answer: tuple = (refusal.code, tuple(sorted(refusal.details.items())))
            self.events.append(("RedemptionRejected", code))
        else:
            spent, redemption = d.redeem(ticket, affiliate_id, f"r-{len(self.redemptions)}", self.now)
            self.tickets[code] = spent
            self.redemptions[redemption.redemption_id] = redemption
            self.events.append(("TicketRedeemed", code))
            answer = ("201", tuple(sorted(redemption.answer().items())))
        self.answers[(affiliate_id, key)] = (code, answer)
        return answer

    def cancel(self, affiliate_id: str, redemption_id: str) -> None:
        redemption = self.redemptions.get(redemption_id)
        if d.check_cancel(redemption, affiliate_id, GRACE, self.now):
            cancelled, ticket = d.cancel(redemption, self.tickets[redemption.ticket_id], self.now)
            self.redemptions[redemption_id] = cancelled
            self.tickets[ticket.ticket_id] = ticket
            self.events.append(("RedemptionCancelled", ticket.ticket_id))

    def void(self, ticket_id: str) -> bool:
        decision = d.void(self.tickets.get(ticket_id))
        if decision.voided:
            if decision.ticket is not None:
                self.tickets[ticket_id] = decision.ticket
            self.events.append(("TicketVoided", ticket_id))
        else:
            self.events.append(("TicketVoidRefused", ticket_id))
        return decision.voided


class RedemptionMachine(RuleBasedStateMachine):
    tickets = Bundle("tickets")
    keys = Bundle("keys")
    redemptions = Bundle("redemptions")

    @initialize()
    def open_the_book(self):
        self.book = Book()
        self.credited: dict[str, int] = {}
        self.valid_until = {}
        self.reserved: dict[str, str | None] = {}
        self.spent: dict[str, tuple[str, str, datetime]] = {}  # ticket -> (affiliate, redemption, when)
        self.voided: set[str] = set()
        self.batched: set[str] = set()
        self.cancelled: set[str] = set()

    @rule(
        target=tickets,
        amount=st.integers(min_value=500, max_value=7000),
        days=st.integers(min_value=0, max_value=4),
        reserved=st.sampled_from([None, None, "aff-a", "aff-b"]),
    )
    def credit(self, amount, days, reserved):
        ticket_id = f"t-{len(self.credited)}"
        valid_until = (self.book.now + timedelta(days=days)).date()
        self.book.tickets[ticket_id] = d.apply_credited(
            None, d.Ticket(ticket_id, "w-1", "c", amount, valid_until, reserved_for=reserved)
        )
        self.credited[ticket_id] = amount
        self.valid_until[ticket_id] = valid_until
        self.reserved[ticket_id] = reserved
        return ticket_id

    def expected(self, affiliate_id: str, ticket_id: str) -> str:
        if not AFFILIATES[affiliate_id]:
            return d.AFFILIATE_NOT_ACTIVE
        if ticket_id not in self.credited:
            return d.TICKET_UNKNOWN
        if ticket_id in self.spent:
            return d.TICKET_ALREADY_REDEEMED
        if ticket_id in self.voided:
            return d.TICKET_VOIDED
        if self.book.now >= d.validity_end(self.valid_until[ticket_id]):
            return d.TICKET_EXPIRED
        if self.reserved[ticket_id] not in (None, affiliate_id):
            return d.TICKET_RESERVED_FOR_OTHER_AFFILIATE
        return "201"

    @rule(target=keys, affiliate_id=st.sampled_from(sorted(AFFILIATES)), ticket_id=tickets | st.just("t-unknown"))
    def redeem(self, affiliate_id, ticket_id):
        key = f"k-{len(self.book.answers)}"
        expected = self.expected(affiliate_id, ticket_id)
        answer = self.book.redeem(affiliate_id, key, ticket_id)
        assert answer[0] == expected
        if expected == "201":
            redemption_id = dict(answer[1])["redemption_id"]
            self.spent[ticket_id] = (affiliate_id, redemption_id, self.book.now)
        return (affiliate_id, key, ticket_id, answer)

    @rule(sent=keys)
    def retry_with_the_same_key_returns_the_first_answer(self, sent):
        affiliate_id, key, ticket_id, first = sent
        events = len(self.book.events)
        assert self.book.redeem(affiliate_id, key, ticket_id) == first
        assert len(self.book.events) == events

    @rule(sent=keys, other=tickets)
    def the_same_key_for_another_ticket_is_refused_and_changes_nothing(self, sent, other):
        affiliate_id, key, ticket_id, _ = sent
        if other == ticket_id:
            return
        before = (dict(self.book.tickets), dict(self.book.redemptions), len(self.book.events))
        try:
            self.book.redeem(affiliate_id, key, other)
        except d.Refusal as refusal:
            assert refusal.code == d.IDEMPOTENCY_KEY_REUSED
        else:
            raise AssertionError("a reused key was accepted for another ticket")
        assert before == (dict(self.book.tickets), dict(self.book.redemptions), len(self.book.events))

    @rule(ticket_id=tickets, affiliate_id=st.sampled_from(sorted(AFFILIATES)))
    def cancel(self, ticket_id, affiliate_id):
        if ticket_id not in self.spent:
            return
        redeemer, redemption_id, when = self.spent[ticket_id]
        allowed = (
            affiliate_id == redeemer and redemption_id not in self.batched and self.book.now < when + GRACE
        )
        try:
            self.book.cancel(affiliate_id, redemption_id)
        except d.Refusal:
            assert not allowed
        else:
            assert allowed
            del self.spent[ticket_id]
            self.cancelled.add(redemption_id)

    @rule(ticket_id=tickets)
    def void(self, ticket_id):
        voided = self.book.void(ticket_id)
        assert voided == (ticket_id not in self.spent)
        if voided:
            self.voided.add(ticket_id)

    @rule(ticket_id=tickets)
    def reimbursement_batch_locks_the_redemption(self, ticket_id):
        if ticket_id in self.spent:
            redemption_id = self.spent[ticket_id][1]
            self.book.redemptions[redemption_id] = d.lock_in_batch(self.book.redemptions[redemption_id], "b-1")
            self.batched.add(redemption_id)

    @rule(minutes=st.sampled_from([1, 10, 29, 31, 60 * 9, 60 * 24]))
    def time_passes_and_tickets_expire(self, minutes):
        self.book.now += timedelta(minutes=minutes)

    @invariant()
    def a_ticket_is_never_spent_twice(self):
        if not hasattr(self, "book"):
            return
        active = Counter(r.ticket_id for r in self.book.redemptions.values() if r.status is d.RedemptionStatus.ACTIVE)
        assert all(n <= 1 for n in active.values())
        for ticket_id, ticket in self.book.tickets.items():
            assert (ticket.status is d.TicketStatus.REDEEMED) == (active[ticket_id] == 1)
        assert {t for t, n in active.items() if n} == set(self.spent)
        events = Counter(self.book.events)
        for ticket_id in self.credited:
            net = events[("TicketRedeemed", ticket_id)] - events[("RedemptionCancelled", ticket_id)]
            assert net == (1 if ticket_id in self.spent else 0)

    @invariant()
    def amounts_are_conserved(self):
        if not hasattr(self, "book"):
            return
        by_status = Counter()
        for ticket in self.book.tickets.values():
            by_status[ticket.status] += ticket.amount_cents
        redeemed = sum(
            r.amount_cents for r in self.book.redemptions.values() if r.status is d.RedemptionStatus.ACTIVE
        )
        assert by_status[d.TicketStatus.REDEEMED] == redeemed
        assert sum(by_status.values()) == sum(self.credited.values())
        assert redeemed == sum(self.credited[t] for t in self.spent)


RedemptionMachine.TestCase.settings = settings(max_examples=120, stateful_step_count=40, deadline=None)
test_redeem_retry_cancel_void_expire_never_spends_twice_and_conserves_amounts = RedemptionMachine.TestCase
