"""The wallet's use cases on an in-memory unit of work: what each command changes, what it
publishes, and that a refusal changes and publishes nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest

from carnet_contracts import ticket_code
from carnet_contracts.events import Guardian, PassGranted, Student, TicketCredited, TicketVoidRequested, WalletCreated
from carnet_runtime import Refusal
from carnet_runtime.auth import Principal
from wallet.application import AssignTicket, CreditTicket, WalletUseCases
from wallet.domain import TicketStatus

from .fakes import FakeWalletUnitOfWork

KEY = b"k" * 32
NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
VALID_UNTIL = date(2027, 3, 31)
FAMILY = Principal(sub="family-1", role="family")


def granted(family_sub: str | None = "family-1", school_id: str = "0920001A") -> PassGranted:
    return PassGranted(
        application_id=f"app-{uuid.uuid4()}", campaign_id="2026-2027", campaign_label="Pass 2026-2027",
        school_id=school_id, family_sub=family_sub,
        student=Student(last_name="Martin", first_name="Léa", birth_date=date(2014, 5, 4), level="5e"),
        guardian=Guardian(last_name="Martin", first_name="Anne", email="anne.martin@example.org"),
        allowance_cents=7000, tickets_per_pass=7, ticket_min_cents=500, ticket_max_cents=7000,
        pass_valid_until=VALID_UNTIL, validated_at=NOW,
    )


@pytest.fixture
def uow() -> FakeWalletUnitOfWork:
    return FakeWalletUnitOfWork()


@pytest.fixture
def use_cases() -> WalletUseCases:
    codes = iter(ticket_code.generate() for _ in range(100))
    return WalletUseCases(KEY, clock=lambda: NOW, new_code=lambda: next(codes))


async def a_wallet(uow, use_cases, **kwargs):
    wallet = await use_cases.pass_granted(uow, granted(**kwargs))
    uow.committed.clear()
    return wallet


async def test_a_granted_pass_opens_one_wallet_of_blank_tickets_however_often_it_arrives(uow, use_cases):
    event = granted()
    wallet = await use_cases.pass_granted(uow, event)
    assert [t.status for t in wallet.tickets] == [TicketStatus.BLANK] * 7
    assert await use_cases.pass_granted(uow, event) is None
    assert [type(e) for e in uow.committed] == [WalletCreated]


async def test_crediting_publishes_the_codes_keyed_hash_never_the_code(uow, use_cases):
    wallet = await a_wallet(uow, use_cases)
    ticket = wallet.tickets[0]
    shown = await use_cases.credit(uow, FAMILY, CreditTicket(wallet.wallet_id, ticket.ticket_id, 1000))
    code = shown.tickets[0].code
    [event] = uow.committed
    assert isinstance(event, TicketCredited)
    assert event.code_hash == ticket_code.code_hash(code, KEY) and code not in event.model_dump_json()
    stored = await uow.wallets.get(wallet.wallet_id)
    assert (stored.tickets[0].status, stored.credited_cents) == (TicketStatus.CREDITED, 1000)


async def test_a_refused_credit_changes_and_publishes_nothing(uow, use_cases):
    wallet = await a_wallet(uow, use_cases)
    with pytest.raises(Refusal) as refused:
        await use_cases.credit(uow, FAMILY, CreditTicket(wallet.wallet_id, wallet.tickets[0].ticket_id, 7001))
    assert refused.value.code == "AMOUNT_OUT_OF_RANGE"
    assert uow.committed == [] and (await uow.wallets.get(wallet.wallet_id)).credited_cents == 0


async def test_another_family_is_told_the_wallet_does_not_exist(uow, use_cases):
    wallet = await a_wallet(uow, use_cases)
    stranger = Principal(sub="family-2", role="family")
    for attempt in (use_cases.show(uow, stranger, wallet.wallet_id),
                    use_cases.credit(uow, stranger, CreditTicket(wallet.wallet_id, wallet.tickets[0].ticket_id, 1000))):
        with pytest.raises(Refusal) as refused:
            await attempt
        assert refused.value.code == "WALLET_UNKNOWN"


async def test_a_correspondent_sees_only_its_own_schools_sheets(uow, use_cases):
    wallet = await a_wallet(uow, use_cases)
    await use_cases.credit(uow, FAMILY, CreditTicket(wallet.wallet_id, wallet.tickets[0].ticket_id, 1000))
    own = Principal(sub="c", role="correspondent", school_id="0920001A")
    other = Principal(sub="c", role="correspondent", school_id="0920002B")
    assert len((await use_cases.sheet(uow, own, wallet.wallet_id, None)).tickets) == 1
    with pytest.raises(Refusal) as refused:
        await use_cases.sheet(uow, other, wallet.wallet_id, None)
    assert refused.value.code == "OTHER_SCHOOL"


async def test_only_the_notification_service_fetches_a_sheet_with_a_service_token(uow, use_cases):
    wallet = await a_wallet(uow, use_cases)
    await use_cases.credit(uow, FAMILY, CreditTicket(wallet.wallet_id, wallet.tickets[0].ticket_id, 1000))
    notification = Principal(sub="notification", role="service", scopes=("wallet.tickets_pdf",))
    assert len((await use_cases.sheet(uow, notification, wallet.wallet_id, [1])).tickets) == 1
    with pytest.raises(Refusal) as refused:
        await use_cases.sheet(uow, Principal(sub="enrolment", role="service"), wallet.wallet_id, [1])
    assert refused.value.code == "FORBIDDEN"


async def test_assigning_to_an_affiliate_the_wallet_does_not_know_as_active_is_refused(uow, use_cases):
    wallet = await a_wallet(uow, use_cases)
    ticket_id = wallet.tickets[0].ticket_id
    await use_cases.credit(uow, FAMILY, CreditTicket(wallet.wallet_id, ticket_id, 1000))
    await use_cases.affiliate_activated(uow, "club-1", "Club de judo")
    await use_cases.affiliate_suspended(uow, "club-2")
    assert (await use_cases.assign(uow, FAMILY, AssignTicket(wallet.wallet_id, ticket_id, "club-1"))).tickets[0].affiliate_id == "club-1"
    with pytest.raises(Refusal) as refused:
        await use_cases.assign(uow, FAMILY, AssignTicket(wallet.wallet_id, ticket_id, "club-2"))
    assert refused.value.code == "AFFILIATE_NOT_ACTIVE"


async def test_a_void_request_asks_the_redemption_service_and_waits_for_its_answer(uow, use_cases):
    wallet = await a_wallet(uow, use_cases)
    ticket_id = wallet.tickets[0].ticket_id
    await use_cases.credit(uow, FAMILY, CreditTicket(wallet.wallet_id, ticket_id, 1000))
    uow.committed.clear()
    shown = await use_cases.request_void(uow, FAMILY, wallet.wallet_id, ticket_id)
    assert shown.tickets[0].status is TicketStatus.VOID_PENDING
    assert [type(e) for e in uow.committed] == [TicketVoidRequested]
    changed = await use_cases.ticket_changed(uow, str(wallet.wallet_id), str(ticket_id), lambda w, t: w.ticket_voided(t))
    assert changed and (await uow.wallets.get(wallet.wallet_id)).tickets[0].status is TicketStatus.VOIDED
    assert not await use_cases.ticket_changed(uow, "not-a-uuid", str(ticket_id), lambda w, t: True)
