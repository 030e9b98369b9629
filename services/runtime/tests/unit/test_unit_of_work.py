"""A unit of work builds the repositories its subclass declares, each on the transaction's connection."""

from __future__ import annotations

import pytest

from carnet_runtime import PostgresUnitOfWork
from carnet_runtime.outbox import Outbox
from carnet_runtime.uow import InMemoryRepository, InMemoryUnitOfWork, declared_repositories


class Lines:
    def __init__(self, conn: object):
        self.conn = conn


class Totals:
    def __init__(self, conn: object):
        self.conn = conn


class LedgerUnitOfWork(PostgresUnitOfWork):
    lines: Lines
    totals: Totals
    label: str = "ledger"  # a plain attribute, not a repository: the unit of work keeps it as it is


class AuditedLedgerUnitOfWork(LedgerUnitOfWork):
    audit: Lines


def test_each_declared_repository_is_built_on_the_connection() -> None:
    uow = AuditedLedgerUnitOfWork(None, Outbox("ledger"))
    connection = object()
    uow.bind(connection)  # type: ignore[arg-type]
    assert isinstance(uow.lines, Lines) and isinstance(uow.totals, Totals) and isinstance(uow.audit, Lines)
    assert uow.lines.conn is connection and uow.totals.conn is connection and uow.audit.conn is connection
    assert uow.audit is not uow.lines
    assert uow.label == "ledger"


def test_only_the_subclasses_declarations_count() -> None:
    assert declared_repositories(LedgerUnitOfWork) == {"lines": Lines, "totals": Totals}
    assert declared_repositories(AuditedLedgerUnitOfWork) == {"lines": Lines, "totals": Totals, "audit": Lines}


class _Shelf(InMemoryRepository):
    async def put(self, item: str) -> None:
        self.state.setdefault("items", []).append(item)


class _ShelfUnitOfWork(InMemoryUnitOfWork):
    shelf: _Shelf


async def test_the_in_memory_unit_of_work_builds_its_declared_fakes_and_rolls_back_in_place() -> None:
    uow = _ShelfUnitOfWork({})
    held = uow.shelf.state
    async with uow:
        await uow.shelf.put("kept")
    with pytest.raises(RuntimeError):
        async with uow:
            await uow.shelf.put("undone")
            raise RuntimeError("the use case failed")
    assert held == {"items": ["kept"]} and uow.shelf.state is held  # the repository still sees the state
    assert uow.blocks == 2
