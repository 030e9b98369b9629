"""The unit of work: one transaction in which an application service loads, lets the domain
decide, stores, and records the events the change produces (cosmicpython's pattern).

An application service is written against a unit of work and never sees a connection:

    async def credit_ticket(uow: WalletUnitOfWork, command: CreditTicket) -> Ticket:
        async with uow:
            wallet = await uow.wallets.get(command.wallet_id, for_update=True)
            ticket = wallet.credit(...)                 # the domain decides, or raises a Refusal
            await uow.wallets.save_ticket(ticket)
            uow.publish(TicketCredited(...))           # written to the outbox at commit
        return ticket

`PostgresUnitOfWork` opens a transaction on the service's pool (or joins the transaction a Kafka
handler already runs in, which also holds the inbox row) and, at the end of the block, writes the
published events to the outbox in that same transaction, then commits; an exception rolls
everything back, events included. A service's subclass declares its repositories as annotations
(`wallets: WalletRepository`), each built on the transaction's connection when the block opens; one
whose repositories need more than the connection overrides `bind(conn)`.
Unit tests pass an `InMemoryUnitOfWork` instead, whose subclass declares fake repositories the same
way (`wallets: FakeWallets`), each built on one in-memory state.
"""

from __future__ import annotations

import copy
import uuid
from contextlib import suppress
from functools import cache
from types import TracebackType
from typing import Any, Self, get_type_hints

import asyncpg

from carnet_contracts.envelope import Event

from .outbox import Outbox


class UnitOfWork:
    """What an application service may do with a unit of work, whatever stores it."""

    def __init__(self) -> None:
        self.published: list[tuple[Event, str | None]] = []
        # The ids of the events this unit of work committed so far (for `Outbox.published`).
        self.committed_event_ids: list[uuid.UUID] = []

    def publish(self, event: Event, *, campaign_id: str | None = None) -> None:
        """Record an event the change produces; it leaves with the change or not at all."""
        self.published.append((event, campaign_id))

    async def __aenter__(self) -> Self:
        self.published = []
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if exc_type is not None:
            self.published = []


@cache
def declared_repositories(uow_class: type) -> dict[str, type]:
    """The repositories a unit of work's subclass declares, by attribute name: its annotations that
    name a class and give no value (`wallets: WalletRepository`; `label: str = "x"` is an attribute)."""
    own = [c for c in uow_class.__mro__ if c not in (PostgresUnitOfWork, InMemoryUnitOfWork, UnitOfWork, object)]
    hints = get_type_hints(uow_class)
    return {name: hints[name] for c in reversed(own) for name in vars(c).get("__annotations__", {})
            if name not in vars(c) and isinstance(hints[name], type)}


class PostgresUnitOfWork(UnitOfWork):
    def __init__(self, pool: asyncpg.Pool | None, outbox: Outbox, *, connection: asyncpg.Connection | None = None):
        super().__init__()
        self._pool = pool
        self._outbox = outbox
        self._given = connection
        self._conn: asyncpg.Connection | None = None
        self._transaction = None

    @classmethod
    def joining(cls, connection: asyncpg.Connection, outbox: Outbox) -> Self:
        """A unit of work inside a transaction someone else commits (the runtime's consumer
        transaction, which also records the event id in the inbox)."""
        return cls(None, outbox, connection=connection)

    @property
    def conn(self) -> asyncpg.Connection:
        if self._conn is None:
            raise RuntimeError("use the unit of work inside `async with`")
        return self._conn

    def bind(self, conn: asyncpg.Connection) -> None:
        """Build the repositories the subclass declares (`name: RepositoryClass`), each on `conn`."""
        for name, repository in declared_repositories(type(self)).items():
            setattr(self, name, repository(conn))

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        if self._given is not None:
            self._conn = self._given
        else:
            if self._pool is None:
                raise RuntimeError("a unit of work needs a pool or a connection")
            self._conn = await self._pool.acquire()
            self._transaction = self._conn.transaction()
            try:
                await self._transaction.start()
            except BaseException:
                await self._pool.release(self._conn)
                self._conn = None
                raise
        self.bind(self._conn)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        conn = self.conn
        try:
            if exc_type is None:
                written = await self._outbox.add_all(conn, self.published)  # one statement for all of them
                if self._transaction is not None:
                    await self._transaction.commit()
                self.committed_event_ids += [envelope.event_id for envelope in written]
            elif self._transaction is not None:
                await self._transaction.rollback()
        except BaseException:
            if self._transaction is not None and exc_type is None:
                with suppress(Exception):  # the commit or an outbox write failed: nothing is kept
                    await self._transaction.rollback()
            raise
        finally:
            self.published = []
            if self._given is None and self._pool is not None:
                await self._pool.release(conn)
            self._conn = None
            self._transaction = None


class InMemoryRepository:
    """A fake repository for unit tests: it reads and writes the unit of work's in-memory state."""

    def __init__(self, state: Any) -> None:
        self.state = state


class InMemoryUnitOfWork(UnitOfWork):
    """cosmicpython's fake unit of work: the repositories its subclass declares (`schools: FakeSchools`)
    share one `state`; a block that raises leaves the state as it found it (a rollback), and
    `committed` holds the events of every block that ended well, in order, as the outbox would."""

    def __init__(self, state: Any) -> None:
        super().__init__()
        self.state = state
        self.committed: list[Event] = []
        self.blocks = 0
        self._before: Any = None
        for name, repository in declared_repositories(type(self)).items():
            setattr(self, name, repository(state))

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        self.blocks += 1
        self._before = copy.deepcopy(self.state)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if exc_type is None:
            self.committed += [event for event, _ in self.published]
        elif self._before is not None:
            _restore(self.state, self._before)
        await super().__aexit__(exc_type, exc, tb)

    def of_type(self, event_type: type[Event]) -> list[Event]:
        return [e for e in self.committed if isinstance(e, event_type)]


def _restore(state: Any, before: Any) -> None:
    """Put `before` back into `state` in place: the repositories hold `state` itself."""
    if isinstance(state, dict):
        state.clear()
        state.update(before)
    else:
        vars(state).clear()
        vars(state).update(vars(before))
