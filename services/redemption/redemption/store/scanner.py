"""The scanner's statements: each one its own implicit transaction, written out.

A redemption is ONE statement, one round trip, when the ticket can be spent (`spend_or_look`): its
conditional UPDATE, which repeats domain.check_redemption in its WHERE clause, spends the ticket if
it can, and only then do the redemption row, the idempotency row and the outbox event exist (the
event's ticket facts and the kept answer are taken from the row the UPDATE spent); the same statement
also reads what the scanner needs when it could not (the affiliate, the ticket, the key's first
answer, whether the code was retired), from which the domain says which refusal it is, kept with
`keep_refusal` (a second statement). No BEGIN/COMMIT round trips; every statement is prepared once
per connection by asyncpg's statement cache. This is why the scanner's requests do not run in a unit
of work: it would add two round trips to every scan.

Neither statement NOTIFYs the outbox relay, as the runtime's `Outbox.add` does: a transaction that
NOTIFYs takes PostgreSQL's one lock on the notification queue from its pre-commit to the end of its
commit, so concurrent scans would commit one at a time, and the listening relay's backend would be
woken for every scan. The redemption relay polls instead, every CARNET_REDEMPTION_OUTBOX_IDLE_POLL_SECONDS
(settings.py).

The scanner's connections come from a pool of their own whose connections are not reset when they go
back (asyncpg's reset is one more round trip per request): they only ever run these statements, which
leave no session state behind (no transaction left open, no LISTEN, no SET, no advisory lock).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg

from carnet_contracts.events import RedemptionRejected, TicketRedeemed
from carnet_runtime.outbox import INSERT_SQL, Outbox, OutboxRow

from .. import domain as d
from . import rows


_INSERT, _VALUES = INSERT_SQL.split("VALUES")
OUTBOX_COLUMNS = tuple(c.strip() for c in _INSERT[_INSERT.index("(") + 1:_INSERT.rindex(")")].split(","))


def outbox_insert_from(source: str, first_parameter: int, computed: dict[str, str] | None = None) -> str:
    """The runtime's outbox INSERT_SQL as an `INSERT ... SELECT` that writes its row only when the
    CTE `source` has one. Each column takes its parameter (`Outbox.row(...).values()`, numbered from
    `first_parameter`, as `outbox_values` keeps them), or the SQL expression `computed` gives for it,
    in which `{value}` stands for its parameter (a computed column without `{value}` takes none)."""
    computed = computed or {}
    values = [v.strip() for v in _VALUES.strip().removeprefix("(").removesuffix(")").split(",")]
    selected, number = [], first_parameter
    for column, value in zip(OUTBOX_COLUMNS, values, strict=True):
        expression = computed.get(column, "{value}")
        if "{value}" in expression:
            expression = expression.replace("{value}", re.sub(r"\$\d+", f"${number}", value))
            number += 1
        selected.append(expression)
    return f"{_INSERT.strip()}\n    SELECT {', '.join(selected)} FROM {source}"


def outbox_values(row: OutboxRow, computed: dict[str, str] | None = None) -> list[Any]:
    """The parameters `outbox_insert_from(..., computed)` takes, in order."""
    computed = computed or {}
    return [value for column, value in zip(OUTBOX_COLUMNS, row.values(), strict=True)
            if "{value}" in computed.get(column, "{value}")]


@dataclass(frozen=True)
class StoredAnswer:
    """An Idempotency-Key's first answer: the request it answered (its fingerprint) and what it said."""

    fingerprint: str
    status_code: int
    body: dict[str, Any]


@dataclass(frozen=True)
class Look:
    """What one query finds for a scanned code: the affiliate, the ticket the code is (or was, for a
    retired code), the ticket's current code suffix, the key's first answer, and why the code was
    retired, if it was."""

    affiliate: d.Affiliate | None
    ticket: d.Ticket | None
    code_suffix: str | None
    stored: StoredAnswer | None
    retired: d.Retired | None = None


@dataclass(frozen=True)
class Spent:
    """What `spend_or_look` answers: the ticket it spent, or (None) what it saw instead."""

    ticket: d.Ticket | None
    look: Look


# The facts of TicketRedeemed that only the spent row knows: the application gives the event without
# them (empty), the statement writes them from the row into the outbox envelope (and its campaign_id).
TICKET_FACTS = ("ticket_id", "wallet_id", "campaign_id", "amount_cents", "code_suffix")
_FILLED_ENVELOPE = (
    "{value} || jsonb_build_object('campaign_id', spent.campaign_id, 'data', ({value} -> 'data') || "
    "jsonb_build_object(" + ", ".join(f"'{f}', spent.{f}" for f in TICKET_FACTS) + "))"
)
_SPENT_EVENT = {"message_key": "spent.ticket_id", "envelope": _FILLED_ENVELOPE}

# A retired code finds the ticket it was (voided, or since credited or replaced with a new code).
_LOOK_FROM = f"""
FROM (SELECT 1) AS one
LEFT JOIN affiliates a ON a.affiliate_id = $1
LEFT JOIN retired_codes x ON x.code_hash = $2
LEFT JOIN tickets t ON t.ticket_id = coalesce(x.ticket_id, (SELECT ticket_id FROM tickets WHERE code_hash = $2))
LEFT JOIN idempotency_keys i ON i.affiliate_id = $1 AND i.idempotency_key = $3
"""
_LOOK_COLUMNS = f"""a.affiliate_id, a.active, a.unknown_codes_tat, {rows.TICKET_COLUMNS},
       i.fingerprint, i.status_code, i.answer, x.reason AS retired"""
_LOOK = f"SELECT {_LOOK_COLUMNS}{_LOOK_FROM}"

# Spend if the ticket can be spent: the WHERE clause repeats domain.check_redemption (the affiliate
# active and not throttled for guessing, the ticket redeemable, valid, not reserved for another) and
# requires the key unused. Nothing else is written unless the UPDATE won; the kept answer is
# Redemption.answer() of the spent row. Else: what `look` reads, from the same snapshot.
_SPEND_OR_LOOK = f"""
WITH spent AS (
    UPDATE tickets s
    SET status = 'redeemed', redemption_id = $4, redeemed_at = $5, redeemed_by = $1, updated_at = $5
    WHERE s.code_hash = $2 AND s.status = 'redeemable' AND s.valid_through > $5
      AND (s.reserved_for IS NULL OR s.reserved_for = $1)
      AND EXISTS (SELECT 1 FROM affiliates WHERE affiliate_id = $1 AND active
                  AND (unknown_codes_tat IS NULL OR unknown_codes_tat <= $5 + $6::interval))
      AND NOT EXISTS (SELECT 1 FROM idempotency_keys WHERE affiliate_id = $1 AND idempotency_key = $3)
    RETURNING s.ticket_id, s.wallet_id, s.campaign_id, s.amount_cents, s.valid_until, s.reserved_for, s.code_suffix
), redemption AS (
    INSERT INTO redemptions (redemption_id, ticket_id, wallet_id, campaign_id, affiliate_id, amount_cents, redeemed_at)
    SELECT $4, ticket_id, wallet_id, campaign_id, $1, amount_cents, $5 FROM spent
), idempotency AS (
    INSERT INTO idempotency_keys (affiliate_id, idempotency_key, fingerprint, status_code, answer, created_at)
    SELECT $1, $3, $2, 201, json_build_object('redemption_id', $4::text, 'ticket_id', ticket_id,
           'amount_cents', amount_cents, 'affiliate_id', $1::text, 'redeemed_at', $7::text), $5
    FROM spent
), event AS (
    {outbox_insert_from("spent", 8, _SPENT_EVENT)}
)
SELECT spent.ticket_id AS spent_ticket_id, spent.wallet_id AS spent_wallet_id,
       spent.campaign_id AS spent_campaign_id, spent.amount_cents AS spent_amount_cents,
       spent.valid_until AS spent_valid_until, spent.reserved_for AS spent_reserved_for,
       {_LOOK_COLUMNS}{_LOOK_FROM}LEFT JOIN spent ON true
"""

# A refusal about the ticket is kept as the key's first answer, with its RedemptionRejected event;
# an unknown code also moves the affiliate's guessing pace on (GuessingLimit.after_unknown_code,
# done in SQL so that concurrent unknown codes all count).
_KEEP_REFUSAL = f"""
WITH kept AS (
    INSERT INTO idempotency_keys (affiliate_id, idempotency_key, fingerprint, status_code, answer, created_at)
    VALUES ($1, $2, $3, $4, $5::json, $6)
    ON CONFLICT DO NOTHING
    RETURNING 1
), pace AS (
    UPDATE affiliates
    SET unknown_codes_tat = greatest(coalesce(unknown_codes_tat, $6), $6) + $7::interval
    WHERE affiliate_id = $1 AND $8 AND EXISTS (SELECT 1 FROM kept)
), event AS (
    {outbox_insert_from("kept", 9)}
)
SELECT 1 FROM kept
"""

_NOTE_UNKNOWN_CODE = """
UPDATE affiliates SET unknown_codes_tat = greatest(coalesce(unknown_codes_tat, $2), $2) + $3::interval
WHERE affiliate_id = $1
"""

_REDEMPTIONS_OF = """
SELECT r.*, t.code_suffix FROM redemptions r JOIN tickets t USING (ticket_id)
WHERE r.affiliate_id = $1
  AND ($2::timestamptz IS NULL OR r.redeemed_at >= $2)
  AND ($3::timestamptz IS NULL OR r.redeemed_at < $3)
ORDER BY r.redeemed_at, r.redemption_id
LIMIT $4
"""


def _look(row: asyncpg.Record) -> Look:
    affiliate = d.Affiliate(row["affiliate_id"], row["active"], row["unknown_codes_tat"]) if row["affiliate_id"] else None
    ticket = rows.ticket(row) if row["ticket_id"] else None
    stored = StoredAnswer(row["fingerprint"], row["status_code"], row["answer"]) if row["fingerprint"] is not None else None
    retired = d.Retired(row["retired"]) if row["retired"] else None
    return Look(affiliate, ticket, row["code_suffix"], stored, retired)


async def _json_codecs(conn: asyncpg.Connection) -> None:
    """json/jsonb as Python values, as on the runtime's pool (the kept answers, the outbox envelope)."""
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(type_name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def _no_reset(_: asyncpg.Connection) -> None:
    """The scanner's statements leave no session state behind: nothing to reset (asyncpg's default
    reset is a round trip each time a connection goes back to the pool)."""


def scanner_pool(dsn: str, size: int) -> Callable[[], Awaitable[asyncpg.Pool]]:
    """Opens the scanner's own pool of `size` connections, not reset on release."""

    async def open_pool() -> asyncpg.Pool:
        return await asyncpg.create_pool(dsn, min_size=size, max_size=size, init=_json_codecs, reset=_no_reset)

    return open_pool


class ScannerStore:
    """The scanner's reads and one-statement writes. `look`, `spend_or_look`, `keep_refusal` and
    `note_unknown_code` run on the connection the caller holds from `connection()`; the others
    take one from the pool. The pool is opened (`open_pool`) at the first request."""

    def __init__(self, open_pool: Callable[[], Awaitable[asyncpg.Pool]], outbox: Outbox, limit: d.GuessingLimit):
        self._open_pool = open_pool
        self._pool: asyncpg.Pool | None = None
        self._opening: asyncio.Lock = asyncio.Lock()
        self.outbox = outbox
        self.limit = limit

    async def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            async with self._opening:
                if self._pool is None:
                    self._pool = await self._open_pool()
        return self._pool

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[asyncpg.Connection]:
        async with (self._pool or await self.pool()).acquire() as conn:
            yield conn

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def look(self, conn: asyncpg.Connection, affiliate_id: str, code_hash: str, idempotency_key: str | None) -> Look:
        return _look(await conn.fetchrow(_LOOK, affiliate_id, code_hash, idempotency_key))

    async def spend_or_look(
        self,
        conn: asyncpg.Connection,
        affiliate_id: str,
        code_hash: str,
        idempotency_key: str,
        redemption_id: str,
        now: datetime,
        event: TicketRedeemed,
    ) -> Spent | None:
        """Spend the ticket if it can be spent now and the key is unused: the ticket as it was spent
        (the redemption, the key's answer and `event`, completed with the row's TICKET_FACTS, written
        with it). Otherwise nothing is written, and `look` tells what was seen. None: the same key
        won elsewhere meanwhile (a concurrent retry): nothing was written, look again."""
        try:
            row = await conn.fetchrow(
                _SPEND_OR_LOOK, affiliate_id, code_hash, idempotency_key, UUID(redemption_id), now,
                self.limit.window - self.limit.interval, now.isoformat(),
                *outbox_values(self.outbox.row(event), _SPENT_EVENT),
            )
        except asyncpg.UniqueViolationError:
            return None
        if row["spent_ticket_id"] is None:
            return Spent(None, _look(row))
        ticket = d.Ticket(
            ticket_id=row["spent_ticket_id"], wallet_id=row["spent_wallet_id"], campaign_id=row["spent_campaign_id"],
            amount_cents=row["spent_amount_cents"], valid_until=row["spent_valid_until"],
            reserved_for=row["spent_reserved_for"],
        )
        return Spent(ticket, _look(row))

    async def keep_refusal(
        self,
        conn: asyncpg.Connection,
        affiliate_id: str,
        idempotency_key: str,
        fingerprint: str,
        status_code: int,
        answer: dict[str, Any],
        now: datetime,
        unknown_code: bool,
        event: RedemptionRejected,
    ) -> bool:
        """Keep a refusal as the key's first answer; False if the key was taken meanwhile."""
        row = await conn.fetchrow(
            _KEEP_REFUSAL,
            affiliate_id,
            idempotency_key,
            fingerprint,
            status_code,
            answer,
            now,
            self.limit.interval,
            unknown_code,
            *outbox_values(self.outbox.row(event)),
        )
        return row is not None

    async def note_unknown_code(self, conn: asyncpg.Connection, affiliate_id: str, now: datetime) -> None:
        await conn.execute(_NOTE_UNKNOWN_CODE, affiliate_id, now, self.limit.interval)

    async def redemptions_of(
        self, affiliate_id: str, since: datetime | None, until: datetime | None, limit: int
    ) -> list[tuple[d.Redemption, str]]:
        """The affiliate's redemptions with their ticket's code suffix, oldest first."""
        found = await (await self.pool()).fetch(_REDEMPTIONS_OF, affiliate_id, since, until, limit)
        return [(rows.redemption(r), r["code_suffix"]) for r in found]

    async def forget_old_keys(self, older_than: timedelta) -> None:
        await (await self.pool()).execute("DELETE FROM idempotency_keys WHERE created_at < now() - $1::interval",
                                          older_than)
