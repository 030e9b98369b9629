"""Redeem, retry, cancel, void and expire in any order: never spent twice, amounts conserved.

The book below composes the domain's rules the way the store does (check, then one
transition, then the answer kept under the idempotency key); the machine compares it
with a model that only remembers which ticket is spent by whom. The same machine runs
against the real SQL store on PostgreSQL (tests/integration/test_redemption_state_machine_on_postgres.py),
through the book's few methods: credit, redeem, cancel, void, lock_in_batch, pass_time, and the
state it shows (tickets, redemptions, events).
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, invariant, rule

from redemption import domain as d

START = datetime(2027, 3, 28, 9, 0, tzinfo=UTC)
AFFILIATES = {"aff-a": True, "aff-b": True, "aff-c": False}
GRACE = timedelta(minutes=30)
UNKNOWN = "t-unknown"  # a ticket no credit ever named


class Book:
    """An in-memory stand-in for the store, made only of domain calls."""

    def __init__(self) -> None:
        self._tickets: dict[str, d.Ticket] = {}
        self._redemptions: dict[str, d.Redemption] = {}
        self.answers: dict[tuple[str, str], tuple[str, tuple]] = {}
        self.affiliates = {a: d.Affiliate(a, active) for a, active in AFFILIATES.items()}
        self._events: list[tuple[str, str]] = []
        self.limit = d.GuessingLimit(max_unknown_codes=1000)
        self.now = START

    # --- what the machine asks -----------------------------------------------------------

    def credit(self, ticket: d.Ticket) -> None:
        self._tickets[ticket.ticket_id] = d.apply_credited(self._tickets.get(ticket.ticket_id), ticket)

    def redeem(self, affiliate_id: str, key: str, code: str) -> tuple:
        stored = self.answers.get((affiliate_id, key))
        if stored is not None:
            d.check_same_request(stored[0], code)
            return stored[1]
        try:
            ticket = d.check_redemption(
                self._tickets.get(code), self.affiliates[affiliate_id], affiliate_id, self.now, self.limit
            )
        except d.Refusal as refusal:
            answer: tuple = (refusal.code, tuple(sorted(refusal.details.items())))
            self._events.append(("RedemptionRejected", code))
        else:
            spent, redemption = d.redeem(ticket, affiliate_id, f"r-{len(self._redemptions)}", self.now)
            self._tickets[code] = spent
            self._redemptions[redemption.redemption_id] = redemption
            self._events.append(("TicketRedeemed", code))
            answer = ("201", tuple(sorted(redemption.answer().items())))
        self.answers[(affiliate_id, key)] = (code, answer)
        return answer

    def cancel(self, affiliate_id: str, redemption_id: str) -> None:
        redemption = self._redemptions.get(redemption_id)
        if d.check_cancel(redemption, affiliate_id, GRACE, self.now):
            cancelled, ticket = d.cancel(redemption, self._tickets[redemption.ticket_id], self.now)
            self._redemptions[redemption_id] = cancelled
            self._tickets[ticket.ticket_id] = ticket
            self._events.append(("RedemptionCancelled", ticket.ticket_id))

    def void(self, ticket_id: str) -> bool:
        decision = d.void(self._tickets.get(ticket_id))
        if decision.voided:
            if decision.ticket is not None:
                self._tickets[ticket_id] = decision.ticket
            self._events.append(("TicketVoided", ticket_id))
        else:
            self._events.append(("TicketVoidRefused", ticket_id))
        return decision.voided

    def lock_in_batch(self, redemption_id: str) -> None:
        self._redemptions[redemption_id] = d.lock_in_batch(self._redemptions[redemption_id], "b-1")

    def pass_time(self, minutes: int) -> None:
        self.now += timedelta(minutes=minutes)

    # --- what the machine checks -----------------------------------------------------------

    def tickets(self) -> dict[str, d.Ticket]:
        return dict(self._tickets)

    def redemptions(self) -> dict[str, d.Redemption]:
        return dict(self._redemptions)

    def events(self) -> list[tuple[str, str]]:
        """(event type, ticket id) of every event written, in order."""
        return list(self._events)


class RedemptionMachine(RuleBasedStateMachine):
    tickets = Bundle("tickets")
    keys = Bundle("keys")
    redemptions = Bundle("redemptions")

    def new_book(self):
        return Book()

    def __init__(self) -> None:
        super().__init__()
        self.book = self.new_book()
        self.keys_used = 0
        self.credited: dict[str, int] = {}
        self.valid_until = {}
        self.reserved: dict[str, str | None] = {}
        self.spent: dict[str, tuple[str, str, datetime]] = {}  # ticket -> (affiliate, redemption, when)
        self.voided: set[str] = set()
        self.batched: set[str] = set()
        self.cancelled: set[str] = set()

    CREDIT = dict(
        amount=st.integers(min_value=500, max_value=7000),
        days=st.integers(min_value=0, max_value=4),
        reserved=st.sampled_from([None, None, "aff-a", "aff-b"]),
    )

    @initialize(target=tickets, **CREDIT)
    def a_first_ticket_is_credited(self, amount, days, reserved):
        return self.credit(amount, days, reserved)

    @initialize(target=tickets, **CREDIT)
    def a_second_ticket_is_credited(self, amount, days, reserved):
        return self.credit(amount, days, reserved)

    @rule(target=tickets, **CREDIT)
    def credit(self, amount, days, reserved):
        ticket_id = f"t-{len(self.credited)}"
        valid_until = (self.book.now + timedelta(days=days)).date()
        self.book.credit(d.Ticket(ticket_id, "w-1", "c", amount, valid_until, reserved_for=reserved))
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

    def _redeem(self, affiliate_id, ticket_id):
        key = f"k-{self.keys_used}"
        self.keys_used += 1
        expected = self.expected(affiliate_id, ticket_id)
        answer = self.book.redeem(affiliate_id, key, ticket_id)
        assert answer[0] == expected
        if expected == "201":
            redemption_id = dict(answer[1])["redemption_id"]
            self.spent[ticket_id] = (affiliate_id, redemption_id, self.book.now)
        return (affiliate_id, key, ticket_id, answer)

    @rule(target=keys, affiliate_id=st.sampled_from(sorted(AFFILIATES)), ticket_id=tickets | st.just(UNKNOWN))
    def redeem(self, affiliate_id, ticket_id):
        return self._redeem(affiliate_id, ticket_id)

    @rule(target=keys, ticket_id=tickets, counter=st.sampled_from(["aff-a", "aff-b"]))
    def a_counter_redeems_a_ticket_it_may_take(self, ticket_id, counter):
        """As counters mostly do: an active affiliate, the one the ticket is reserved for if any."""
        return self._redeem(self.reserved[ticket_id] or counter, ticket_id)

    @rule(sent=keys)
    def retry_with_the_same_key_returns_the_first_answer(self, sent):
        affiliate_id, key, ticket_id, first = sent
        events = len(self.book.events())
        assert self.book.redeem(affiliate_id, key, ticket_id) == first
        assert len(self.book.events()) == events

    @rule(sent=keys, other=tickets)
    def the_same_key_for_another_ticket_is_refused_and_changes_nothing(self, sent, other):
        affiliate_id, key, ticket_id, _ = sent
        if other == ticket_id:
            return
        before = (self.book.tickets(), self.book.redemptions(), len(self.book.events()))
        try:
            self.book.redeem(affiliate_id, key, other)
        except d.Refusal as refusal:
            assert refusal.code == d.IDEMPOTENCY_KEY_REUSED
        else:
            raise AssertionError("a reused key was accepted for another ticket")
        assert before == (self.book.tickets(), self.book.redemptions(), len(self.book.events()))

    def _cancel(self, ticket_id, affiliate_id):
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

    @rule(ticket_id=tickets, affiliate_id=st.sampled_from(sorted(AFFILIATES)))
    def cancel(self, ticket_id, affiliate_id):
        if ticket_id in self.spent:
            self._cancel(ticket_id, affiliate_id)

    @rule(ticket_id=tickets)
    def the_redeemer_cancels(self, ticket_id):
        if ticket_id in self.spent:
            self._cancel(ticket_id, self.spent[ticket_id][0])

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
            self.book.lock_in_batch(redemption_id)
            self.batched.add(redemption_id)

    @rule(minutes=st.sampled_from([1, 10, 29, 31, 60 * 9, 60 * 24]))
    def time_passes_and_tickets_expire(self, minutes):
        self.book.pass_time(minutes)

    @invariant()
    def a_ticket_is_never_spent_twice(self):
        redemptions, tickets = self.book.redemptions(), self.book.tickets()
        active = Counter(r.ticket_id for r in redemptions.values() if r.status is d.RedemptionStatus.ACTIVE)
        assert all(n <= 1 for n in active.values())
        for ticket_id, ticket in tickets.items():
            assert (ticket.status is d.TicketStatus.REDEEMED) == (active[ticket_id] == 1)
        assert {t for t, n in active.items() if n} == set(self.spent)
        events = Counter(self.book.events())
        for ticket_id in self.credited:
            net = events[("TicketRedeemed", ticket_id)] - events[("RedemptionCancelled", ticket_id)]
            assert net == (1 if ticket_id in self.spent else 0)

    @invariant()
    def amounts_are_conserved(self):
        by_status = Counter()
        for ticket in self.book.tickets().values():
            by_status[ticket.status] += ticket.amount_cents
        redeemed = sum(
            r.amount_cents for r in self.book.redemptions().values() if r.status is d.RedemptionStatus.ACTIVE
        )
        assert by_status[d.TicketStatus.REDEEMED] == redeemed
        assert sum(by_status.values()) == sum(self.credited.values())
        assert redeemed == sum(self.credited[t] for t in self.spent)


RedemptionMachine.TestCase.settings = settings(max_examples=120, stateful_step_count=40, deadline=None)
test_redeem_retry_cancel_void_expire_never_spends_twice_and_conserves_amounts = RedemptionMachine.TestCase
