"""What every service's repositories share: the connection of the unit of work they run in, a row
read for update, and records turned into the domain's dataclasses."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from functools import cache
from typing import Any, TypeVar

import asyncpg

T = TypeVar("T")


class Repository:
    """A table's SQL on the connection of the unit of work that built it (see uow.py)."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def fetch_one(self, query: str, *args: Any, for_update: bool = False) -> asyncpg.Record | None:
        """One row of `query`, locked until the transaction ends when `for_update`."""
        return await self.conn.fetchrow(f"{query} FOR UPDATE" if for_update else query, *args)


@cache
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(field.name for field in dataclasses.fields(cls) if field.init)


def from_row(cls: type[T], row: Mapping[str, Any], **converted: Any) -> T:
    """A dataclass from a record whose columns bear its fields' names; `converted` gives the fields
    whose column needs a conversion (an enum, a nested value) or is named otherwise."""
    return cls(**{name: row[name] for name in _field_names(cls) if name not in converted}, **converted)
