"""The scanner's statements: each one its own implicit transaction, written out.

The redemption path is two statements on one pooled connection (asyncpg resets a connection
with an extra round trip each time it goes back to the pool), no BEGIN/COMMIT round trips,
both prepared once per connection by asyncpg's statement cache:
`look` reads the affiliate, the ticket and the idempotency key in one query; `spend`
is ONE statement whose conditional UPDATE only one request can win, and whose other
parts (redemption row, idempotency row, outbox event) exist only if it won. This is why the
scanner's requests do not run in a unit of work: it would add two round trips to every scan.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg

from carnet_contracts.events import RedemptionRejected, TicketRedeemed
from carnet_runtime.outbox import INSERT_SQL, NOTIFY_CHANNEL, Outbox

from .. import domain as d
from . import rows


def outbox_insert_from(source: str, first_parameter: int) -> str:
    """The runtime's outbox INSERT_SQL as an `INSERT ... SELECT` that writes its row only when the
    CTE `source` has one; its parameters (`Outbox.row(...).values()`) numbered from `first_parameter`."""
    insert, values = INSERT_SQL.split("VALUES")
    values = values.strip().removeprefix("(").removesuffix(")")
    values = re.sub(r"\$(\d+)", lambda m: f"${int(m[1]) + first_parameter - 1}", values)
    return f"{insert.strip()}\n    SELECT {values} FROM {source}"


@dataclass(frozen=True)
class StoredAnswer:
    """An Idempotency-Key's first answer: the request it answered (its fingerprint) and what it said."""

    fingerprint: str
    status_code: int
    body: dict[str, Any]


@dataclass(frozen=True)
class Look:
    affiliate: d.Affiliate | None
    ticket: d.Ticket | None
    code_suffix: str | None
    stored: StoredAnswer | None


_LOOK = f"""
SELECT a.affiliate_id, a.active, a.unknown_codes_tat, {rows.TICKET_COLUMNS},
       i.fingerprint, i.status_code, i.answer
FROM (SELECT 1) AS one
LEFT JOIN affiliates a ON a.affiliate_id = $1
LEFT JOIN tickets t ON t.code_hash = $2
LEFT JOIN idempotency_keys i ON i.affiliate_id = $1 AND i.idempotency_key = $3
"""

# Spend: the WHERE clause repeats domain.check_redemption, and pins the amount and ticket the
# answer and the event were built from. Nothing else is written unless the UPDATE won.
_SPEND = f"""
WITH spent AS (
    UPDATE tickets
    SET status = 'redeemed', redemption_id = $1, redeemed_at = $2, redeemed_by = $3, updated_at = $2
    WHERE code_hash = $4 AND ticket_id = $5 AND amount_cents = $6
      AND status = 'redeemable' AND valid_through > $2
      AND (reserved_for IS NULL OR reserved_for = $3)
      AND EXISTS (SELECT 1 FROM affiliates WHERE affiliate_id = $3 AND active)
    RETURNING ticket_id, wallet_id, campaign_id, amount_cents
), redemption AS (
    INSERT INTO redemptions (redemption_id, ticket_id, wallet_id, campaign_id, affiliate_id, amount_cents, redeemed_at)
    SELECT $1, ticket_id, wallet_id, campaign_id, $3, amount_cents, $2 FROM spent
), idempotency AS (
    INSERT INTO idempotency_keys (affiliate_id, idempotency_key, fingerprint, status_code, answer, created_at)
    SELECT $3, $7, $4, 201, $8::json, $2 FROM spent
), event AS (
    {outbox_insert_from("spent", 9)}
)
SELECT pg_notify($15, '') FROM spent
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
SELECT pg_notify($15, '') FROM kept
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


class ScannerStore:
    """The scanner's reads and one-statement writes. `look`, `spend`, `keep_refusal` and
    `note_unknown_code` run on the connection the caller holds from `connection()`; the others
    take one from the pool."""

    def __init__(self, pool_of: Callable[[], asyncpg.Pool], outbox: Outbox, limit: d.GuessingLimit):
        self._pool_of = pool_of  # the pool exists once the service has started
        self.outbox = outbox
        self.limit = limit

    def connection(self) -> asyncpg.pool.PoolAcquireContext:
        return self._pool_of().acquire()

    async def look(self, conn: asyncpg.Connection, affiliate_id: str, code_hash: str, idempotency_key: str | None) -> Look:
        row = await conn.fetchrow(_LOOK, affiliate_id, code_hash, idempotency_key)
        affiliate = (
            d.Affiliate(row["affiliate_id"], row["active"], row["unknown_codes_tat"]) if row["affiliate_id"] else None
        )
        ticket = rows.ticket(row) if row["ticket_id"] else None
        stored = (
            StoredAnswer(row["fingerprint"], row["status_code"], row["answer"]) if row["fingerprint"] is not None else None
        )
        return Look(affiliate, ticket, row["code_suffix"], stored)

    async def spend(
        self,
        conn: asyncpg.Connection,
        redemption: d.Redemption,
        code_hash: str,
        idempotency_key: str,
        answer: dict[str, Any],
        event: TicketRedeemed,
    ) -> bool:
        """True if this request won the ticket and `answer` is the key's first answer. False if the
        ticket changed since `look` or the key was taken meanwhile: nothing was written, look again."""
        try:
            row = await conn.fetchrow(
                _SPEND,
                UUID(redemption.redemption_id),
                redemption.redeemed_at,
                redemption.affiliate_id,
                code_hash,
                redemption.ticket_id,
                redemption.amount_cents,
                idempotency_key,
                answer,
                *self.outbox.row(event).values(),
                NOTIFY_CHANNEL,
            )
        except asyncpg.UniqueViolationError:
            return False  # the same key won elsewhere meanwhile
        return row is not None

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
            *self.outbox.row(event).values(),
            NOTIFY_CHANNEL,
        )
        return row is not None

    async def note_unknown_code(self, conn: asyncpg.Connection, affiliate_id: str, now: datetime) -> None:
        await conn.execute(_NOTE_UNKNOWN_CODE, affiliate_id, now, self.limit.interval)

    async def redemptions_of(
        self, affiliate_id: str, since: datetime | None, until: datetime | None, limit: int
    ) -> list[tuple[d.Redemption, str]]:
        """The affiliate's redemptions with their ticket's code suffix, oldest first."""
        found = await self._pool_of().fetch(_REDEMPTIONS_OF, affiliate_id, since, until, limit)
        return [(rows.redemption(r), r["code_suffix"]) for r in found]

    async def forget_old_keys(self, older_than: timedelta) -> None:
        await self._pool_of().execute("DELETE FROM idempotency_keys WHERE created_at < now() - $1::interval", older_than)
