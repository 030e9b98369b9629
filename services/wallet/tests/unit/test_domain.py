import uuid
from datetime import UTC, date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from carnet_contracts import ticket_code
from wallet.domain import (
    Affiliate,
    CampaignTerms,
    Refusal,
    Student,
    TicketStatus,
    Wallet,
    format_euros,
    validity_end,
)

VALID_UNTIL = date(2027, 3, 31)
DURING = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
CLUB = Affiliate(str(uuid.uuid4()), "Club de judo de Nanterre", active=True)
SUSPENDED = Affiliate(str(uuid.uuid4()), "Théâtre fermé", active=False)
AFFILIATES = {CLUB.affiliate_id: CLUB, SUSPENDED.affiliate_id: SUSPENDED}


def make_terms(**overrides) -> CampaignTerms:
    values = dict(campaign_id="2026-2027", label="Pass Hauts-de-Seine 2026-2027", allowance_cents=7000,
                  tickets_per_pass=7, ticket_min_cents=500, ticket_max_cents=7000, pass_valid_until=VALID_UNTIL)
    values.update(overrides)
    return CampaignTerms(**values)


def make_wallet(**overrides) -> Wallet:
    return Wallet.open(application_id=str(uuid.uuid4()), school_id="0920001A", owner_sub="family-1",
                       guardian_email="parent@example.org", student=Student("Martin", "Léa", "5e"),
                       terms=make_terms(**overrides))


def credit(wallet: Wallet, position: int, amount: int, **kwargs):
    return wallet.credit(wallet.tickets[position - 1].ticket_id, amount, code=ticket_code.generate(),
                         now=kwargs.pop("now", DURING), **kwargs)


def a_credited_ticket(amount: int):
    """A new wallet and its first ticket, credited with `amount`."""
    wallet = make_wallet()
    return wallet, credit(wallet, 1, amount)


def refusal_code(call) -> str:
    with pytest.raises(Refusal) as caught:
        call()
    return caught.value.code


# -- opening --------------------------------------------------------------------------------------


def test_a_new_wallet_has_the_campaigns_number_of_blank_tickets_at_positions_1_to_n():
    wallet = make_wallet(tickets_per_pass=5, allowance_cents=5000)
    assert [t.position for t in wallet.tickets] == [1, 2, 3, 4, 5]
    assert {t.status for t in wallet.tickets} == {TicketStatus.BLANK}
    assert len({t.ticket_id for t in wallet.tickets}) == 5
    assert (wallet.allowance_cents, wallet.credited_cents, wallet.remaining_cents) == (5000, 0, 5000)


# -- crediting --------------------------------------------------------------------------------------


def test_crediting_a_blank_ticket_gives_it_amount_code_and_takes_it_from_the_remaining():
    wallet = make_wallet()
    ticket = credit(wallet, 1, 1000)
    assert ticket.status is TicketStatus.CREDITED
    assert ticket.amount_cents == 1000
    assert ticket_code.parse(ticket.code) == ticket.code
    assert (wallet.credited_cents, wallet.remaining_cents) == (1000, 6000)


@pytest.mark.parametrize("amount", [0, 499, 7001, -500])
def test_an_amount_outside_the_campaign_bounds_is_refused(amount):
    wallet = make_wallet()
    assert refusal_code(lambda: credit(wallet, 1, amount)) == "AMOUNT_OUT_OF_RANGE"
    assert wallet.tickets[0].status is TicketStatus.BLANK


@pytest.mark.parametrize("amount", [500, 7000])
def test_the_campaign_bounds_themselves_are_accepted(amount):
    assert credit(make_wallet(), 1, amount).amount_cents == amount


def test_a_credit_above_the_remaining_allowance_is_refused_and_changes_nothing():
    wallet = make_wallet()
    credit(wallet, 1, 7000 - 600)
    with pytest.raises(Refusal) as caught:
        credit(wallet, 2, 700)
    assert caught.value.code == "ALLOWANCE_EXCEEDED"
    assert caught.value.details["remaining_cents"] == 600
    assert "6,00\u00a0€" in caught.value.message
    assert wallet.tickets[1].status is TicketStatus.BLANK
    assert wallet.credited_cents == 6400


def test_only_a_blank_ticket_can_be_credited():
    wallet = make_wallet()
    credit(wallet, 1, 1000)
    assert refusal_code(lambda: credit(wallet, 1, 1000)) == "TICKET_NOT_BLANK"
    assert wallet.credited_cents == 1000


def test_crediting_is_refused_after_the_last_paris_day_of_validity():
    wallet = make_wallet()
    last_paris_minute = datetime(2027, 3, 31, 21, 59, tzinfo=UTC)  # 23:59 in Paris (summer time)
    assert credit(wallet, 1, 1000, now=last_paris_minute).status is TicketStatus.CREDITED
    paris_midnight = datetime(2027, 3, 31, 22, 0, tzinfo=UTC)
    assert refusal_code(lambda: credit(wallet, 2, 1000, now=paris_midnight)) == "PASS_EXPIRED"


def test_the_validity_end_is_midnight_in_paris_after_the_last_day():
    assert validity_end(date(2027, 3, 31)) == datetime(2027, 3, 31, 22, 0, tzinfo=UTC)
    assert validity_end(date(2026, 12, 31)) == datetime(2026, 12, 31, 23, 0, tzinfo=UTC)


def test_crediting_for_an_affiliate_needs_it_active_in_the_wallets_copy():
    wallet = make_wallet()
    assert refusal_code(lambda: credit(wallet, 1, 1000, affiliate_id=SUSPENDED.affiliate_id,
                                       known_affiliates=AFFILIATES)) == "AFFILIATE_NOT_ACTIVE"
    assert refusal_code(lambda: credit(wallet, 1, 1000, affiliate_id="unknown-affiliate",
                                       known_affiliates=AFFILIATES)) == "AFFILIATE_NOT_ACTIVE"
    assert wallet.tickets[0].status is TicketStatus.BLANK
    ticket = credit(wallet, 1, 1000, affiliate_id=CLUB.affiliate_id, known_affiliates=AFFILIATES)
    assert ticket.affiliate_id == CLUB.affiliate_id


def test_an_unknown_ticket_is_refused():
    wallet = make_wallet()
    assert refusal_code(lambda: wallet.credit(uuid.uuid4(), 1000, code=ticket_code.generate(),
                                              now=DURING)) == "TICKET_UNKNOWN"


def test_refusal_messages_are_french_sentences_with_euros():
    wallet = make_wallet()
    with pytest.raises(Refusal) as caught:
        credit(wallet, 1, 100)
    assert caught.value.message == "Le montant d'un ticket doit être compris entre 5,00\u00a0€ et 70,00\u00a0€."


def test_euros_are_written_the_french_way():
    assert format_euros(1000) == "10,00\u00a0€"
    assert format_euros(505) == "5,05\u00a0€"
    assert format_euros(123456) == "1\u202f234,56\u00a0€"


# -- assignment -------------------------------------------------------------------------------------


def test_a_credited_ticket_can_be_assigned_to_an_active_affiliate_and_back_to_none():
    wallet = make_wallet()
    ticket = credit(wallet, 1, 1000)
    wallet.assign(ticket.ticket_id, CLUB.affiliate_id, now=DURING, known_affiliates=AFFILIATES)
    assert ticket.affiliate_id == CLUB.affiliate_id
    wallet.assign(ticket.ticket_id, None, now=DURING)
    assert ticket.affiliate_id is None


def test_assignment_refuses_a_suspended_affiliate_and_a_blank_ticket():
    wallet = make_wallet()
    ticket = credit(wallet, 1, 1000)
    assert refusal_code(lambda: wallet.assign(ticket.ticket_id, SUSPENDED.affiliate_id, now=DURING,
                                              known_affiliates=AFFILIATES)) == "AFFILIATE_NOT_ACTIVE"
    assert refusal_code(lambda: wallet.assign(wallet.tickets[1].ticket_id, CLUB.affiliate_id, now=DURING,
                                              known_affiliates=AFFILIATES)) == "TICKET_NOT_CREDITED"


# -- voiding and what the redemption service says -------------------------------------------------


def test_a_void_request_makes_the_ticket_pending_and_still_holds_its_amount():
    wallet, ticket = a_credited_ticket(2000)
    wallet.request_void(ticket.ticket_id, now=DURING)
    assert ticket.status is TicketStatus.VOID_PENDING
    assert wallet.remaining_cents == 5000
    assert refusal_code(lambda: wallet.request_void(ticket.ticket_id, now=DURING)) == "TICKET_NOT_CREDITED"


def test_a_voided_ticket_is_blank_again_its_amount_back_in_the_remaining_and_its_code_gone():
    wallet = make_wallet()
    ticket = credit(wallet, 1, 2000, affiliate_id=CLUB.affiliate_id, known_affiliates=AFFILIATES)
    wallet.request_void(ticket.ticket_id, now=DURING)
    assert wallet.ticket_voided(ticket.ticket_id)
    assert (ticket.status, ticket.amount_cents, ticket.code, ticket.affiliate_id) == (TicketStatus.BLANK, None, None, None)
    assert wallet.remaining_cents == 7000
    assert not wallet.ticket_voided(ticket.ticket_id), "a redelivered event changes nothing"
    again = credit(wallet, 1, 7000)
    assert again.status is TicketStatus.CREDITED and wallet.remaining_cents == 0


def test_a_refused_void_puts_the_ticket_back_to_credited_with_the_reason():
    wallet, ticket = a_credited_ticket(2000)
    wallet.request_void(ticket.ticket_id, now=DURING)
    assert wallet.void_refused(ticket.ticket_id, "TICKET_ALREADY_REDEEMED")
    assert ticket.status is TicketStatus.CREDITED
    assert ticket.void_refusal_reason == "TICKET_ALREADY_REDEEMED"
    assert wallet.remaining_cents == 5000


def test_a_redeemed_ticket_stays_redeemed_when_its_void_is_refused():
    wallet, ticket = a_credited_ticket(2000)
    wallet.request_void(ticket.ticket_id, now=DURING)
    assert wallet.ticket_redeemed(ticket.ticket_id, redeemed_at=DURING)
    assert wallet.void_refused(ticket.ticket_id, "TICKET_ALREADY_REDEEMED")
    assert ticket.status is TicketStatus.REDEEMED


def test_redeemed_then_cancelled_makes_the_ticket_credited_again():
    wallet, ticket = a_credited_ticket(2000)
    assert wallet.ticket_redeemed(ticket.ticket_id, redeemed_at=DURING, affiliate_id=CLUB.affiliate_id)
    assert (ticket.status, ticket.redeemed_by) == (TicketStatus.REDEEMED, CLUB.affiliate_id)
    assert not wallet.ticket_redeemed(ticket.ticket_id, redeemed_at=DURING)
    assert wallet.redemption_cancelled(ticket.ticket_id)
    assert ticket.status is TicketStatus.CREDITED and ticket.redeemed_at is None and ticket.redeemed_by is None
    assert wallet.credited_cents == 2000


def test_a_cancellation_then_void_waits_for_the_voided_event_then_the_ticket_is_blank():
    wallet, ticket = a_credited_ticket(2000)
    wallet.ticket_redeemed(ticket.ticket_id, redeemed_at=DURING)
    assert wallet.redemption_cancelled(ticket.ticket_id, then_void=True)
    assert ticket.status is TicketStatus.VOID_PENDING and wallet.remaining_cents == 5000
    assert wallet.ticket_voided(ticket.ticket_id)
    assert ticket.status is TicketStatus.BLANK and wallet.remaining_cents == 7000


# -- replacing a lost ticket -------------------------------------------------------------------------


def test_a_replacement_keeps_amount_and_affiliate_and_swaps_the_code_once_the_old_one_is_revoked():
    wallet = make_wallet()
    ticket = credit(wallet, 1, 2000, affiliate_id=CLUB.affiliate_id, known_affiliates=AFFILIATES)
    old, new = ticket.code, ticket_code.generate()
    wallet.request_replace(ticket.ticket_id, new_code=new, now=DURING)
    assert (ticket.status, ticket.code, ticket.pending_code) == (TicketStatus.REPLACE_PENDING, old, new)
    assert wallet.credited_cents == 2000
    assert refusal_code(lambda: wallet.request_void(ticket.ticket_id, now=DURING)) == "TICKET_NOT_CREDITED"
    assert refusal_code(lambda: wallet.request_replace(ticket.ticket_id, new_code=new, now=DURING)) == "TICKET_NOT_CREDITED"
    assert wallet.ticket_replaced(ticket.ticket_id) is ticket
    assert (ticket.status, ticket.code, ticket.pending_code) == (TicketStatus.CREDITED, new, None)
    assert (ticket.amount_cents, ticket.affiliate_id) == (2000, CLUB.affiliate_id)
    assert wallet.ticket_replaced(ticket.ticket_id) is None


def test_a_replacement_is_refused_after_the_validity_end_and_for_a_blank_ticket():
    wallet, ticket = a_credited_ticket(2000)
    after = validity_end(VALID_UNTIL)
    assert refusal_code(lambda: wallet.request_replace(ticket.ticket_id, new_code="x", now=after)) == "PASS_EXPIRED"
    blank = wallet.tickets[1].ticket_id
    assert refusal_code(lambda: wallet.request_replace(blank, new_code="x", now=DURING)) == "TICKET_NOT_CREDITED"


def test_a_replacement_refused_leaves_the_ticket_redeemed_with_the_reason_and_no_pending_code():
    wallet, ticket = a_credited_ticket(2000)
    wallet.request_replace(ticket.ticket_id, new_code=ticket_code.generate(), now=DURING)
    assert wallet.replace_refused(ticket.ticket_id, "déjà utilisé", redeemed_at=DURING, affiliate_id="club")
    assert (ticket.status, ticket.redeemed_by, ticket.pending_code) == (TicketStatus.REDEEMED, "club", None)
    assert ticket.replace_refusal_reason == "déjà utilisé"
    assert not wallet.replace_refused(wallet.tickets[1].ticket_id, "x", redeemed_at=None, affiliate_id=None)


def test_events_about_an_unknown_or_blank_ticket_change_nothing():
    wallet = make_wallet()
    blank = wallet.tickets[0].ticket_id
    assert not wallet.ticket_redeemed(blank, redeemed_at=DURING)
    assert not wallet.ticket_voided(uuid.uuid4())
    assert not wallet.void_refused(blank, "x")
    assert not wallet.redemption_cancelled(blank)
    assert {t.status for t in wallet.tickets} == {TicketStatus.BLANK}


# -- expiry and the sheet ----------------------------------------------------------------------------


def test_blank_and_credited_tickets_show_expired_after_the_validity_end_but_redeemed_stay():
    wallet = make_wallet()
    credited = credit(wallet, 1, 1000)
    redeemed = credit(wallet, 2, 1000)
    wallet.ticket_redeemed(redeemed.ticket_id, redeemed_at=DURING)
    after = validity_end(VALID_UNTIL)
    assert credited.status_at(after, VALID_UNTIL) is TicketStatus.EXPIRED
    assert wallet.tickets[2].status_at(after, VALID_UNTIL) is TicketStatus.EXPIRED
    assert redeemed.status_at(after, VALID_UNTIL) is TicketStatus.REDEEMED
    assert credited.status_at(DURING, VALID_UNTIL) is TicketStatus.CREDITED


def test_the_sheet_holds_the_requested_credited_tickets_only():
    wallet = make_wallet()
    for position in (1, 2, 3):
        credit(wallet, position, 1000)
    assert [t.position for t in wallet.sheet_tickets(None, now=DURING)] == [1, 2, 3]
    assert [t.position for t in wallet.sheet_tickets([3, 1], now=DURING)] == [1, 3]
    assert refusal_code(lambda: wallet.sheet_tickets([1, 4], now=DURING)) == "TICKET_NOT_PRINTABLE"
    assert refusal_code(lambda: wallet.sheet_tickets([1, 1], now=DURING)) == "POSITIONS_INVALID"
    assert refusal_code(lambda: wallet.sheet_tickets([], now=DURING)) == "POSITIONS_INVALID"
    assert refusal_code(lambda: make_wallet().sheet_tickets(None, now=DURING)) == "NO_CREDITED_TICKET"
    after = validity_end(VALID_UNTIL)
    assert refusal_code(lambda: wallet.sheet_tickets(None, now=after)) == "NO_CREDITED_TICKET"


# -- the allowance, whatever the sequence ---------------------------------------------------------


@given(allowance=st.integers(0, 20_000), amounts=st.lists(st.integers(-100, 9000), max_size=12))
@settings(max_examples=150)
def test_a_credit_is_accepted_exactly_when_in_bounds_and_within_the_remaining(allowance, amounts):
    wallet = make_wallet(allowance_cents=allowance, tickets_per_pass=12)
    for position, amount in enumerate(amounts, start=1):
        before = wallet.credited_cents
        fits = 500 <= amount <= 7000 and before + amount <= allowance
        try:
            credit(wallet, position, amount)
            accepted = True
        except Refusal:
            accepted = False
        assert accepted == fits
        assert wallet.credited_cents == before + (amount if fits else 0)
        assert 0 <= wallet.credited_cents <= allowance


HOLDING = (TicketStatus.CREDITED, TicketStatus.REDEEMED, TicketStatus.VOID_PENDING, TicketStatus.REPLACE_PENDING)


class AllowanceMachine(RuleBasedStateMachine):
    """Credits, voids, redemptions and cancellations in any order: the wallet accepts exactly the
    credits that fit (a wallet refusing every credit fails here) and never exceeds its allowance.

    The wallet is compared with a model of its own: each ticket's status and amount, kept by the
    machine from what it asked, not read back from the wallet.
    """

    @initialize(allowance=st.integers(500, 10_000))
    def open_wallet(self, allowance):
        self.wallet = make_wallet(allowance_cents=allowance)
        self.allowance = allowance
        self.model: dict = {t.ticket_id: (TicketStatus.BLANK, None) for t in self.wallet.tickets}
        self.accepted_credits = 0

    def _held(self) -> int:
        return sum(amount for status, amount in self.model.values() if status in HOLDING)

    def _in(self, status) -> list:
        return [t for t in self.wallet.tickets if self.model[t.ticket_id][0] is status]

    def _pick(self, index, status):
        """One of the tickets the model has in `status` (chosen by `index`) and its amount; None, None
        when there is none."""
        matching = self._in(status)
        if not matching:
            return None, None
        ticket = matching[index % len(matching)]
        return ticket, self.model[ticket.ticket_id][1]

    @rule(index=st.integers(0, 6), amount=st.integers(400, 7100))
    def credit_a_ticket(self, index, amount):
        ticket = self.wallet.tickets[index]
        blank = self.model[ticket.ticket_id][0] is TicketStatus.BLANK
        in_bounds = 500 <= amount <= 7000
        fits = self._held() + amount <= self.allowance
        try:
            self.wallet.credit(ticket.ticket_id, amount, code=ticket_code.generate(), now=DURING)
        except Refusal as refusal:
            assert not (blank and in_bounds and fits), f"a credit that fits was refused: {refusal.code}"
            expected = "TICKET_NOT_BLANK" if not blank else "AMOUNT_OUT_OF_RANGE" if not in_bounds else "ALLOWANCE_EXCEEDED"
            assert refusal.code == expected
        else:
            assert blank and in_bounds and fits, "a credit that does not fit was accepted"
            self.model[ticket.ticket_id] = (TicketStatus.CREDITED, amount)
            self.accepted_credits += 1

    @precondition(lambda self: self._in(TicketStatus.CREDITED))
    @rule(index=st.integers(0, 6))
    def request_a_void(self, index):
        ticket, amount = self._pick(index, TicketStatus.CREDITED)
        self.wallet.request_void(ticket.ticket_id, now=DURING)
        self.model[ticket.ticket_id] = (TicketStatus.VOID_PENDING, amount)

    @precondition(lambda self: self._in(TicketStatus.VOID_PENDING))
    @rule(index=st.integers(0, 6), voided=st.booleans())
    def answer_a_void(self, index, voided):
        ticket, amount = self._pick(index, TicketStatus.VOID_PENDING)
        if voided:  # a voided ticket is blank again: its amount is back in the allowance
            assert self.wallet.ticket_voided(ticket.ticket_id)
            self.model[ticket.ticket_id] = (TicketStatus.BLANK, None)
        else:
            assert self.wallet.void_refused(ticket.ticket_id, "TICKET_ALREADY_REDEEMED")
            self.model[ticket.ticket_id] = (TicketStatus.CREDITED, amount)

    @rule(index=st.integers(0, 6), cancel=st.booleans())
    def redeem_or_cancel(self, index, cancel):
        if cancel:
            ticket, amount = self._pick(index, TicketStatus.REDEEMED)
            if ticket:
                assert self.wallet.redemption_cancelled(ticket.ticket_id)
                self.model[ticket.ticket_id] = (TicketStatus.CREDITED, amount)
        else:
            ticket, amount = self._pick(index, TicketStatus.CREDITED)
            if ticket:
                assert self.wallet.ticket_redeemed(ticket.ticket_id, redeemed_at=DURING)
                self.model[ticket.ticket_id] = (TicketStatus.REDEEMED, amount)

    @precondition(lambda self: self._in(TicketStatus.CREDITED))
    @rule(index=st.integers(0, 6), outcome=st.sampled_from(["replaced", "refused", "redeemed"]))
    def replace_a_ticket(self, index, outcome):
        ticket, amount = self._pick(index, TicketStatus.CREDITED)
        self.wallet.request_replace(ticket.ticket_id, new_code=ticket_code.generate(), now=DURING)
        if outcome == "replaced":  # same amount, a new code
            self.wallet.ticket_replaced(ticket.ticket_id)
            self.model[ticket.ticket_id] = (TicketStatus.CREDITED, amount)
            return
        if outcome == "redeemed":
            self.wallet.ticket_redeemed(ticket.ticket_id, redeemed_at=DURING)
        self.wallet.replace_refused(ticket.ticket_id, "x", redeemed_at=DURING, affiliate_id=None)
        self.model[ticket.ticket_id] = (TicketStatus.REDEEMED, amount)

    @precondition(lambda self: self._in(TicketStatus.REDEEMED))
    @rule(index=st.integers(0, 6), then_void=st.booleans())
    def cancel_late(self, index, then_void):
        ticket, amount = self._pick(index, TicketStatus.REDEEMED)
        assert self.wallet.redemption_cancelled(ticket.ticket_id, then_void=then_void)
        if then_void:
            assert self.wallet.ticket_voided(ticket.ticket_id)
            self.model[ticket.ticket_id] = (TicketStatus.BLANK, None)
        else:
            self.model[ticket.ticket_id] = (TicketStatus.CREDITED, amount)

    @invariant()
    def the_wallet_holds_what_the_model_credited_and_never_more_than_the_allowance(self):
        held = self._held()
        assert {t.ticket_id: (t.status, t.amount_cents) for t in self.wallet.tickets} == self.model
        assert self.wallet.credited_cents == held <= self.allowance
        assert self.wallet.remaining_cents == self.allowance - held
        assert all((t.status is TicketStatus.BLANK) == (t.code is None) for t in self.wallet.tickets)
        assert all((t.status is TicketStatus.REPLACE_PENDING) == (t.pending_code is not None) for t in self.wallet.tickets)
        assert self.wallet.money_left_cents == self.allowance - sum(
            amount for status, amount in self.model.values() if status is TicketStatus.REDEEMED)


def test_the_allowance_machine_catches_a_wallet_that_refuses_every_credit(monkeypatch):
    """The machine above fails for a wallet that never credits: its property is not vacuous."""
    from hypothesis.stateful import run_state_machine_as_test

    def refuse(self, *args, **kwargs):
        raise Refusal("ALLOWANCE_EXCEEDED", "refusé")

    monkeypatch.setattr(Wallet, "credit", refuse)
    with pytest.raises(AssertionError):
        run_state_machine_as_test(AllowanceMachine, settings=settings(
            max_examples=50, deadline=None, database=None, report_multiple_bugs=False))

TestAllowanceUnderAnySequence = AllowanceMachine.TestCase
TestAllowanceUnderAnySequence.settings = settings(max_examples=60, stateful_step_count=25, deadline=None)
