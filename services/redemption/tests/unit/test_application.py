"""The use cases against the in-memory store and unit of work (tests/unit/fakes.py): what each one
answers, keeps and publishes. The integration tests run the same use cases on the real SQL."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from fastapi.responses import JSONResponse

from carnet_contracts import ticket_code
from carnet_contracts.events import (
    AffiliateActivated,
    CampaignPublished,
    RedemptionCancelled,
    RedemptionRejected,
    ReimbursementBatchCreated,
    TicketCredited,
    TicketRedeemed,
    TicketVoided,
    TicketVoidRefused,
    TicketVoidRequested,
)
from carnet_runtime import Refusal
from redemption import application
from redemption import domain as d
from redemption.application import Scanner
from redemption.refusals import REFUSALS
from redemption.views import Redeemed

from .fakes import FakeDatabase, FakeRedemptionUnitOfWork, FakeScannerStore

KEY = b"unit-test-ticket-code-hash-key"
CAMPAIGN = "2026-2027"


class Counter:
    """An affiliate's counter: a scanner over the fakes, with a clock the test moves."""

    def __init__(self) -> None:
        self.now = datetime(2027, 1, 15, 13, 0, tzinfo=UTC)
        self.limit = d.GuessingLimit(max_unknown_codes=3, window=timedelta(minutes=3))
        self.db = FakeDatabase()
        self.store = FakeScannerStore(self.db, self.limit)
        self.scanner = Scanner(KEY, self.limit, clock=lambda: self.now)

    def uow(self) -> FakeRedemptionUnitOfWork:
        return FakeRedemptionUnitOfWork(self.db)

    async def affiliate(self, affiliate_id: str = "aff-a") -> str:
        await application.activate_affiliate(self.uow(), AffiliateActivated(
            affiliate_id=affiliate_id, name="Club", activity="sport", city="Nanterre", postcode="92000",
            activated_at=self.now))
        return affiliate_id

    async def credit(self, amount_cents: int = 1000, *, affiliate_id: str | None = None,
                     valid_until: date = date(2027, 3, 31)) -> tuple[str, str]:
        """A credited ticket: (its code, its id)."""
        code, ticket_id = ticket_code.generate(), f"t-{uuid.uuid4().hex[:8]}"
        await application.credit_ticket(self.uow(), TicketCredited(
            ticket_id=ticket_id, wallet_id="w-1", campaign_id=CAMPAIGN, position=1,
            code_hash=ticket_code.code_hash(code, KEY), code_suffix=code[-4:], amount_cents=amount_cents,
            affiliate_id=affiliate_id, valid_until=valid_until, credited_at=self.now))
        self.db.committed.clear()
        return code, ticket_id

    async def redeem(self, code: str, key: str | None = None, affiliate_id: str = "aff-a"):
        return await self.scanner.redeem(self.store, affiliate_id, key or str(uuid.uuid4()), code)

    def published(self, kind: type) -> list:
        return [e for e in self.db.committed if isinstance(e, kind)]


@pytest.fixture
async def counter() -> Counter:
    c = Counter()
    await c.affiliate()
    c.db.committed.clear()
    return c


async def refusal_of(call) -> Refusal:
    with pytest.raises(Refusal) as caught:
        await call
    return caught.value


# --- redeem -----------------------------------------------------------------------------------


async def test_redeeming_answers_201_and_publishes_ticket_redeemed_with_the_code_suffix_never_the_code(counter):
    code, ticket_id = await counter.credit(1500)
    answer = await counter.redeem(code)
    assert answer.status_code == 201
    assert answer.body["ticket_id"] == ticket_id and answer.body["amount_cents"] == 1500
    [event] = counter.published(TicketRedeemed)
    assert event.redemption_id == answer.body["redemption_id"]
    assert event.code_suffix == code[-4:]
    assert code not in event.model_dump_json()
    assert counter.db.tickets[ticket_id].status is d.TicketStatus.REDEEMED


async def test_the_201_body_is_the_documented_model_byte_for_byte(counter):
    """The route answers the kept body as it is (no response-model validation on the hot path): it must
    be what the OpenAPI document says."""
    code, _ = await counter.credit()
    answer = await counter.redeem(code)
    assert JSONResponse(answer.body).body == Redeemed.model_validate(answer.body).model_dump_json().encode()


async def test_a_retry_with_the_same_key_gets_the_first_answer_and_publishes_nothing_more(counter):
    code, _ = await counter.credit()
    first = await counter.redeem(code, key="k-1")
    again = await counter.redeem(code.lower(), key="k-1")  # spelled differently by the scanner: the same request
    assert again == first
    assert len(counter.db.committed) == 1


async def test_the_same_key_for_another_ticket_is_refused_and_changes_nothing(counter):
    code, _ = await counter.credit()
    other, other_id = await counter.credit()
    await counter.redeem(code, key="k-1")
    refusal = await refusal_of(counter.redeem(other, key="k-1"))
    assert refusal.code == "IDEMPOTENCY_KEY_REUSED"
    assert counter.db.tickets[other_id].status is d.TicketStatus.REDEEMABLE
    assert len(counter.db.committed) == 1


async def test_a_refusal_about_the_ticket_is_kept_with_its_status_from_the_table_and_publishes_redemption_rejected(
    counter,
):
    code, ticket_id = await counter.credit()
    await counter.redeem(code, affiliate_id="aff-a")
    await counter.affiliate("aff-b")
    refused = await counter.redeem(code, key="k-b", affiliate_id="aff-b")
    assert refused.status_code == REFUSALS["TICKET_ALREADY_REDEEMED"] == 409
    assert refused.body["error"]["code"] == "TICKET_ALREADY_REDEEMED"
    assert "redeemed_at" in refused.body["error"]["details"]
    [rejected] = counter.published(RedemptionRejected)
    assert (rejected.ticket_id, rejected.affiliate_id, rejected.reason_code) == (ticket_id, "aff-b", "TICKET_ALREADY_REDEEMED")
    counter.now += timedelta(days=400)  # whatever changes since, the key answers what it answered
    assert await counter.redeem(code, key="k-b", affiliate_id="aff-b") == refused
    assert len(counter.published(RedemptionRejected)) == 1


async def test_a_malformed_code_is_refused_and_nothing_is_kept_or_published(counter):
    code, _ = await counter.credit()
    typo = code[:-1] + ("2" if code[-1] != "2" else "3")
    refusal = await refusal_of(counter.redeem(typo, key="k-1"))
    assert refusal.code == "CODE_MALFORMED"
    assert refusal.details["fields"][0]["field"] == "ticket_code"
    assert counter.db.keys == {} and counter.db.committed == []
    assert (await counter.redeem(code, key="k-1")).status_code == 201  # the key is still free


async def test_unknown_codes_beyond_the_burst_are_refused_with_retry_after_and_that_answer_is_not_kept(counter):
    code, _ = await counter.credit()
    for _ in range(3):
        unknown = await counter.redeem(ticket_code.generate())
        assert unknown.status_code == 404 and unknown.body["error"]["code"] == "TICKET_UNKNOWN"
    refusal = await refusal_of(counter.redeem(code, key="k-late"))
    assert refusal.code == "TOO_MANY_UNKNOWN_CODES"
    assert refusal.retry_after == refusal.details["retry_after_seconds"] > 0
    assert ("aff-a", "k-late") not in counter.db.keys
    assert len(counter.published(RedemptionRejected)) == 3
    counter.now += timedelta(seconds=refusal.retry_after)
    assert (await counter.redeem(code, key="k-late")).status_code == 201


async def test_a_request_that_loses_the_race_answers_what_it_finds(counter):
    code, ticket_id = await counter.credit()
    await counter.affiliate("aff-b")
    winner = {}

    async def competitor():
        winner["answer"] = await counter.redeem(code, key="k-b", affiliate_id="aff-b")

    counter.store.before_write = competitor
    loser = await counter.redeem(code, key="k-a")
    assert winner["answer"].status_code == 201
    assert loser.status_code == 409 and loser.body["error"]["code"] == "TICKET_ALREADY_REDEEMED"
    assert [r.affiliate_id for r in counter.db.redemptions.values()] == ["aff-b"]
    assert len(counter.published(TicketRedeemed)) == 1


async def test_a_refusal_whose_key_was_answered_meanwhile_gives_that_first_answer(counter):
    code = ticket_code.generate()

    async def the_same_request_again_once_the_ticket_is_credited():
        await application.credit_ticket(counter.uow(), TicketCredited(
            ticket_id="t-late", wallet_id="w-1", campaign_id=CAMPAIGN, position=1,
            code_hash=ticket_code.code_hash(code, KEY), code_suffix=code[-4:], amount_cents=1000,
            valid_until=date(2027, 3, 31), credited_at=counter.now))
        assert (await counter.redeem(code, key="k-1")).status_code == 201

    counter.store.before_write = the_same_request_again_once_the_ticket_is_credited
    answer = await counter.redeem(code, key="k-1")  # found no ticket, then could not keep its 404
    assert answer.status_code == 201
    assert counter.published(RedemptionRejected) == []


async def test_a_request_that_keeps_losing_its_race_is_refused_busy_and_writes_nothing(counter):
    code, ticket_id = await counter.credit()
    counter.store.always_lose = True
    refusal = await refusal_of(counter.redeem(code, key="k-1"))
    assert refusal.code == "REDEMPTION_BUSY" and REFUSALS[refusal.code] == 503
    assert counter.db.keys == {} and counter.db.committed == [] and counter.db.redemptions == {}


async def test_an_inactive_affiliate_is_refused_before_anything_about_the_ticket(counter):
    code, _ = await counter.credit()
    answer = await counter.redeem(code, affiliate_id="aff-stranger")
    assert answer.status_code == 403 and answer.body["error"]["code"] == "AFFILIATE_NOT_ACTIVE"
    [rejected] = counter.published(RedemptionRejected)
    assert rejected.reason_code == "AFFILIATE_NOT_ACTIVE"


# --- check and list ---------------------------------------------------------------------------


async def test_checking_a_ticket_spends_nothing_and_says_whether_it_is_reserved_for_you(counter):
    code, ticket_id = await counter.credit(2000, affiliate_id="aff-a")
    check = await counter.scanner.check(counter.store, "aff-a", code)
    assert check.refusal is None and check.ticket.ticket_id == ticket_id
    assert (check.amount_cents, check.code_suffix, check.reserved_for_you) == (2000, code[-4:], True)
    assert counter.db.tickets[ticket_id].status is d.TicketStatus.REDEEMABLE
    assert counter.db.committed == [] and counter.db.keys == {}


async def test_checking_shows_the_amount_beside_a_refusal_about_the_ticket_only(counter):
    code, _ = await counter.credit(2000, valid_until=date(2027, 1, 1))
    expired = await counter.scanner.check(counter.store, "aff-a", code)
    assert (expired.refusal.code, expired.amount_cents) == ("TICKET_EXPIRED", 2000)
    stranger = await counter.scanner.check(counter.store, "aff-stranger", code)
    assert (stranger.refusal.code, stranger.amount_cents) == ("AFFILIATE_NOT_ACTIVE", None)


async def test_checking_an_unknown_code_counts_as_a_guess(counter):
    for _ in range(3):
        check = await counter.scanner.check(counter.store, "aff-a", ticket_code.generate())
        assert check.refusal.code == "TICKET_UNKNOWN"
    code, _ = await counter.credit()
    assert (await refusal_of(counter.redeem(code))).code == "TOO_MANY_UNKNOWN_CODES"


async def test_the_list_totals_the_active_redemptions_only(counter):
    first, _ = await counter.credit(1000)
    second, _ = await counter.credit(2500)
    one = await counter.redeem(first)
    counter.now += timedelta(minutes=1)
    await counter.redeem(second)
    await counter.scanner.cancel(counter.uow(), "aff-a", one.body["redemption_id"])
    found = await counter.scanner.redemptions(counter.store, "aff-a", None, None, 100)
    assert [r.status for r, _ in found.redemptions] == [d.RedemptionStatus.CANCELLED, d.RedemptionStatus.ACTIVE]
    assert found.total_cents == 2500


# --- cancel -----------------------------------------------------------------------------------


async def test_cancelling_within_the_grace_period_publishes_redemption_cancelled_and_frees_the_ticket(counter):
    code, ticket_id = await counter.credit(1500)
    redeemed = await counter.redeem(code)
    counter.now += timedelta(minutes=29)
    cancelled = await counter.scanner.cancel(counter.uow(), "aff-a", redeemed.body["redemption_id"])
    assert cancelled.status is d.RedemptionStatus.CANCELLED and cancelled.cancelled_at == counter.now
    [event] = counter.published(RedemptionCancelled)
    assert (event.ticket_id, event.amount_cents) == (ticket_id, 1500)
    assert counter.db.tickets[ticket_id].status is d.TicketStatus.REDEEMABLE
    assert (await counter.redeem(code)).status_code == 201


async def test_a_refused_cancel_publishes_nothing_and_changes_nothing(counter):
    code, ticket_id = await counter.credit()
    redemption_id = (await counter.redeem(code)).body["redemption_id"]
    counter.db.committed.clear()
    by_other = await refusal_of(counter.scanner.cancel(counter.uow(), "aff-b", redemption_id))
    assert by_other.code == "REDEMPTION_OF_OTHER_AFFILIATE"
    counter.now += timedelta(minutes=30)  # the default grace period, when the campaign is not known here
    too_late = await refusal_of(counter.scanner.cancel(counter.uow(), "aff-a", redemption_id))
    assert too_late.code == "CANCEL_PERIOD_OVER"
    assert counter.db.committed == []
    assert counter.db.redemptions[redemption_id].status is d.RedemptionStatus.ACTIVE
    assert counter.db.tickets[ticket_id].status is d.TicketStatus.REDEEMED


async def test_a_redemption_id_that_is_not_one_is_unknown(counter):
    for redemption_id in ("not-a-uuid", str(uuid.uuid4())):
        assert (await refusal_of(counter.scanner.cancel(counter.uow(), "aff-a", redemption_id))).code == (
            "REDEMPTION_UNKNOWN")


async def test_a_batched_redemption_can_no_longer_be_cancelled(counter):
    code, _ = await counter.credit()
    redemption_id = (await counter.redeem(code)).body["redemption_id"]
    locked = await application.lock_in_batch(counter.uow(), ReimbursementBatchCreated(
        batch_id="b-1", campaign_id=CAMPAIGN, redemption_ids=[redemption_id, "not-here"], total_cents=1000, count=2,
        created_at=counter.now))
    assert locked == 1
    refusal = await refusal_of(counter.scanner.cancel(counter.uow(), "aff-a", redemption_id))
    assert refusal.code == "REDEMPTION_IN_REIMBURSEMENT_BATCH"


# --- what the other services' events change ---------------------------------------------------


async def test_a_credit_again_never_unspends_a_spent_ticket(counter):
    code, ticket_id = await counter.credit()
    await counter.redeem(code)
    await application.credit_ticket(counter.uow(), TicketCredited(
        ticket_id=ticket_id, wallet_id="w-1", campaign_id=CAMPAIGN, position=1,
        code_hash=ticket_code.code_hash(code, KEY), code_suffix=code[-4:], amount_cents=1000,
        valid_until=date(2027, 3, 31), credited_at=counter.now))
    assert counter.db.tickets[ticket_id].status is d.TicketStatus.REDEEMED


async def test_voiding_a_spent_ticket_is_refused_with_the_reason_and_an_unspent_one_is_voided(counter):
    spent, spent_id = await counter.credit()
    kept, kept_id = await counter.credit(3000)
    await counter.redeem(spent)
    for ticket_id in (spent_id, kept_id):
        await application.void_ticket(counter.uow(), TicketVoidRequested(
            ticket_id=ticket_id, wallet_id="w-1", campaign_id=CAMPAIGN, requested_at=counter.now),
            clock=lambda: counter.now)
    [refused] = counter.published(TicketVoidRefused)
    assert (refused.ticket_id, refused.reason_code) == (spent_id, "TICKET_ALREADY_REDEEMED")
    assert refused.redeemed_at == counter.now
    [voided] = counter.published(TicketVoided)
    assert (voided.ticket_id, voided.amount_cents) == (kept_id, 3000)
    assert counter.db.tickets[kept_id].status is d.TicketStatus.VOIDED
    assert counter.db.tickets[spent_id].status is d.TicketStatus.REDEEMED
    assert (await counter.redeem(kept)).body["error"]["code"] == "TICKET_VOIDED"


async def test_a_campaign_sets_the_grace_period_and_moves_its_tickets_validity(counter):
    code, ticket_id = await counter.credit(valid_until=date(2027, 1, 1))
    await application.publish_campaign(counter.uow(), CampaignPublished(
        campaign_id=CAMPAIGN, label="2026-2027", enrolment_opens=date(2026, 6, 1), enrolment_closes=date(2026, 11, 30),
        pass_valid_until=date(2027, 4, 30), reimbursement_deadline=date(2027, 5, 31), allowance_cents=7000,
        tickets_per_pass=7, ticket_min_cents=500, ticket_max_cents=7000, eligible_postcode_prefixes=["92"],
        eligible_levels=["6e"], redemption_cancel_grace_minutes=5))
    assert counter.db.tickets[ticket_id].valid_until == date(2027, 4, 30)
    redemption_id = (await counter.redeem(code)).body["redemption_id"]
    counter.now += timedelta(minutes=5)
    assert (await refusal_of(counter.scanner.cancel(counter.uow(), "aff-a", redemption_id))).code == (
        "CANCEL_PERIOD_OVER")
