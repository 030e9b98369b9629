"""The redemption state machine of tests/unit/test_redemption_state_machine.py, run against the real
SQL store on the session's PostgreSQL: the scanner's two statements (look, spend) on its ScannerStore,
the cancel in a RedemptionUnitOfWork, and the use cases the service's Kafka handlers run for credits,
void requests and reimbursement batches, each in its transaction, on a database migrated like the
service's. The scanner's clock is the machine's, so tickets expire when the model says, whatever
today is.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from hypothesis import settings
from hypothesis.stateful import run_state_machine_as_test

from carnet_contracts import ticket_code
from carnet_contracts.events import ReimbursementBatchCreated, TicketCredited, TicketVoidRequested
from carnet_runtime import Refusal, db
from carnet_runtime.outbox import Outbox
from redemption import application
from redemption import domain as d
from redemption.app import MIGRATIONS
from redemption.application import Scanner
from redemption.store import RedemptionUnitOfWork, ScannerStore

pytestmark = pytest.mark.integration

CODE_HASH_KEY = b"state-machine-code-hash-key-0001"


def _model():
    """The machine and its in-memory book, from the unit tests (one definition of the rules)."""
    path = Path(__file__).parents[1] / "unit" / "test_redemption_state_machine.py"
    spec = importlib.util.spec_from_file_location("redemption_state_machine_model", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


model = _model()


class SqlBook:
    """The book the machine drives, made of the service's real SQL on a fresh set of tables."""

    def __init__(self, run: Callable[[Any], Any], pool: asyncpg.Pool):
        self.run = run
        self.pool = pool
        self.now = model.START
        limit = d.GuessingLimit(max_unknown_codes=1000)
        self.outbox = Outbox("redemption")
        self.store = ScannerStore(lambda: pool, self.outbox, limit)
        self.scanner = Scanner(CODE_HASH_KEY, limit, clock=lambda: self.now)
        self.codes: dict[str, str] = {}
        self.credited: list[str] = []
        self.run(self._empty())

    def uow(self) -> RedemptionUnitOfWork:
        return RedemptionUnitOfWork(self.pool, self.outbox)

    async def _empty(self) -> None:
        await self.pool.execute("TRUNCATE tickets, redemptions, idempotency_keys, affiliates, campaigns, outbox, inbox")
        async with self.uow() as uow:
            for affiliate_id, active in model.AFFILIATES.items():
                await uow.affiliates.set_active(affiliate_id, active)
            await uow.campaigns.save(d.Campaign("c", int(model.GRACE.total_seconds() // 60)),
                                     (model.START + timedelta(days=365)).date())

    def code(self, ticket_id: str) -> str:
        return self.codes.setdefault(ticket_id, ticket_code.generate())

    # --- what the machine asks -----------------------------------------------------------

    def credit(self, ticket: d.Ticket) -> None:
        code = self.code(ticket.ticket_id)
        self.credited.append(ticket.ticket_id)
        self.run(application.credit_ticket(self.uow(), TicketCredited(
            ticket_id=ticket.ticket_id, wallet_id=ticket.wallet_id, campaign_id=ticket.campaign_id, position=1,
            code_hash=ticket_code.code_hash(code, CODE_HASH_KEY), code_suffix=code[-4:],
            amount_cents=ticket.amount_cents, affiliate_id=ticket.reserved_for, valid_until=ticket.valid_until,
            credited_at=self.now,
        )))

    def redeem(self, affiliate_id: str, key: str, ticket_id: str) -> tuple:
        answered = self.run(self.scanner.redeem(self.store, affiliate_id, key, self.code(ticket_id)))
        if answered.status_code == 201:
            return "201", tuple(sorted(answered.body.items()))
        return answered.body["error"]["code"], json.dumps(answered.body, sort_keys=True)

    def cancel(self, affiliate_id: str, redemption_id: str) -> None:
        self.run(self.scanner.cancel(self.uow(), affiliate_id, redemption_id))

    def void(self, ticket_id: str) -> bool:
        before = len(self.events())
        self.run(application.void_ticket(
            self.uow(), TicketVoidRequested(ticket_id=ticket_id, wallet_id="w-1", campaign_id="c", requested_at=self.now),
            clock=lambda: self.now,
        ))
        (answer,) = [kind for kind, _ in self.events()[before:]]
        return answer == "TicketVoided"

    def lock_in_batch(self, redemption_id: str) -> None:
        self.run(application.lock_in_batch(self.uow(), ReimbursementBatchCreated(
            batch_id="b-1", campaign_id="c", redemption_ids=[redemption_id], total_cents=0, count=1,
            created_at=self.now,
        )))

    def pass_time(self, minutes: int) -> None:
        self.now += timedelta(minutes=minutes)

    # --- what the machine checks -----------------------------------------------------------

    def tickets(self) -> dict[str, d.Ticket]:
        async def read() -> dict[str, d.Ticket]:
            async with self.uow() as uow:
                found = {t: await uow.tickets.get_for_update(t) for t in self.credited}
            return {t: ticket for t, ticket in found.items() if ticket is not None}

        return self.run(read())

    def redemptions(self) -> dict[str, d.Redemption]:
        async def read() -> dict[str, d.Redemption]:
            found: dict[str, d.Redemption] = {}
            for affiliate_id in model.AFFILIATES:
                for redemption, _ in await self.store.redemptions_of(affiliate_id, None, None, 10_000):
                    found[redemption.redemption_id] = redemption
            return found

        return self.run(read())

    def events(self) -> list[tuple[str, str]]:
        rows = self.run(self.pool.fetch(
            "SELECT event_type, envelope -> 'data' ->> 'ticket_id' AS ticket_id FROM outbox ORDER BY id"))
        return [(r["event_type"], r["ticket_id"]) for r in rows]


@pytest.fixture
def sql_book_on(stack):
    """(loop, pool): an event loop of the test's own (hypothesis drives the machine synchronously) and a
    pool on a freshly migrated database, for the SqlBooks the test makes."""
    loop = asyncio.new_event_loop()
    try:
        dsn = loop.run_until_complete(stack.create_database("redemption_model"))
        loop.run_until_complete(db.migrate(dsn, MIGRATIONS, service="redemption"))
        pool = loop.run_until_complete(db.create_pool(dsn, min_size=1, max_size=4))
        try:
            yield loop, pool
        finally:
            loop.run_until_complete(pool.close())
    finally:
        loop.close()


def test_redeem_retry_cancel_void_expire_on_the_sql_store_never_spends_twice_and_conserves_amounts(sql_book_on):
    loop, pool = sql_book_on

    class SqlRedemptionMachine(model.RedemptionMachine):
        def new_book(self) -> SqlBook:
            return SqlBook(loop.run_until_complete, pool)

    run_state_machine_as_test(
        SqlRedemptionMachine,
        settings=settings(max_examples=25, stateful_step_count=30, deadline=None),
    )


def test_the_sql_book_is_the_store_and_not_a_copy_of_the_model(sql_book_on):
    """A ticket spent in SQL is spent for every later look, whatever the in-memory model holds."""
    loop, pool = sql_book_on
    book = SqlBook(loop.run_until_complete, pool)
    ticket = d.Ticket("t-0", "w-1", "c", 1500, (model.START + timedelta(days=1)).date())
    book.credit(ticket)
    first = book.redeem("aff-a", "k-0", "t-0")
    assert first[0] == "201"
    assert book.redeem("aff-b", f"k-{uuid.uuid4()}", "t-0")[0] == d.TICKET_ALREADY_REDEEMED
    try:
        book.redeem("aff-a", "k-0", "t-1")
    except Refusal as refusal:
        assert refusal.code == d.IDEMPOTENCY_KEY_REUSED
    else:
        raise AssertionError("a key reused for another ticket was accepted")
    spent = loop.run_until_complete(pool.fetchval("SELECT status FROM tickets WHERE ticket_id = 't-0'"))
    assert spent == "redeemed"
