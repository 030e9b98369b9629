"""What the use-case tests share: an in-memory unit of work, use cases on a fixed clock, events."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest

from carnet_contracts import ticket_code
from carnet_contracts.events import GuardianContact, PassGranted, Pupil
from carnet_runtime import Refusal
from carnet_runtime.auth import Principal
from wallet.application import CreditTicket, WalletUseCases

from .fakes import FakeWalletUnitOfWork

KEY = b"k" * 32
NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
VALID_UNTIL = date(2027, 3, 31)
SCHOOL = "0920001A"
FAMILY = Principal(sub="family-1", role="family")
CORRESPONDENT = Principal(sub="corr-1", role="correspondent", school_id=SCHOOL)
ADMIN = Principal(sub="admin-1", role="admin")
NOTIFICATION = Principal(sub="notification", role="service", scopes=("wallet.tickets_pdf",))


def granted(family_sub: str | None = "family-1", school_id: str = SCHOOL, campaign_id: str = "2026-2027",
            valid_until: date = VALID_UNTIL, email: str = "anne.martin@example.org", allowance: int = 7000) -> PassGranted:
    return PassGranted(
        application_id=f"app-{uuid.uuid4()}", campaign_id=campaign_id, campaign_label="Pass 2026-2027",
        school_id=school_id, family_sub=family_sub, channel="online" if family_sub else "paper",
        student=Pupil(last_name="Martin", first_name="Léa", level="5e"),
        guardian=GuardianContact(last_name="Martin", first_name="Anne", email=email),
        allowance_cents=allowance, tickets_per_pass=7, ticket_min_cents=500, ticket_max_cents=7000,
        pass_valid_until=valid_until, validated_at=NOW,
    )


class Clock:
    def __init__(self, now: datetime = NOW):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def uow() -> FakeWalletUnitOfWork:
    return FakeWalletUnitOfWork()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def use_cases(clock) -> WalletUseCases:
    codes = iter(ticket_code.generate() for _ in range(1000))
    return WalletUseCases(KEY, clock=clock, new_code=lambda: next(codes))


async def a_wallet(uow, use_cases, **kwargs):
    wallet = await use_cases.pass_granted(uow, granted(**kwargs))
    uow.committed.clear()
    return wallet


async def credited(uow, use_cases, wallet, *positions, actor=FAMILY, amount=1000):
    """Credit the tickets at these positions; their (ticket id, code)."""
    out = []
    for position in positions:
        ticket_id = wallet.tickets[position - 1].ticket_id
        shown = await use_cases.credit(uow, actor, CreditTicket(wallet.wallet_id, ticket_id, amount))
        out.append((ticket_id, shown.tickets[0].code))
    uow.committed.clear()
    return out


async def refused(call) -> Refusal:
    with pytest.raises(Refusal) as caught:
        await call
    return caught.value


async def stored(uow, wallet_id, position):
    return (await uow.wallets.get(wallet_id)).tickets[position - 1]
