"""The redemption service's SQL, written out.

The scanner's path is two statements on one pooled connection (asyncpg resets a connection
with an extra round trip each time it goes back to the pool), each statement its own implicit
transaction (no BEGIN/COMMIT round trips), both prepared once per connection by asyncpg's
statement cache:
`look` reads the affiliate, the ticket and the idempotency key in one query; `spend`
is ONE statement whose conditional UPDATE only one request can win, and whose other
parts (redemption row, idempotency row, outbox event) exist only if it won.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import asyncpg

from carnet_contracts.envelope import Event
from carnet_runtime.outbox import INSERT_SQL as OUTBOX_INSERT
from carnet_runtime.outbox import NOTIFY_CHANNEL, Outbox, OutboxRow

from . import domain as d

PRODUCER = "redemption"


@dataclass(frozen=True)
class StoredAnswer:
    fingerprint: str
    status_code: int
    answer: dict[str, Any]


@dataclass(frozen=True)
class Look:
    affiliate: d.Affiliate | None
    ticket: d.Ticket | None
    code_suffix: str | None
    stored: StoredAnswer | None


_OUTBOX = Outbox(PRODUCER)


def outbox_row(event: Event, campaign_id: str | None = None) -> OutboxRow:
    """What the runtime's Outbox.add writes, built here so it can ride inside a larger statement."""
    return _OUTBOX.row(event, campaign_id=campaign_id)


def _ticket(row: asyncpg.Record) -> d.Ticket:
    return d.Ticket(
        ticket_id=row["ticket_id"],
        wallet_id=row["wallet_id"],
        campaign_id=row["campaign_id"],
        amount_cents=row["amount_cents"],
        valid_until=row["valid_until"],
        reserved_for=row["reserved_for"],
        status=d.TicketStatus(row["status"]),
        redemption_id=str(row["redemption_id"]) if row["redemption_id"] else None,
        redeemed_at=row["redeemed_at"],
        redeemed_by=row["redeemed_by"],
    )


def _redemption(row: asyncpg.Record) -> d.Redemption:
    return d.Redemption(
        redemption_id=str(row["redemption_id"]),
        ticket_id=row["ticket_id"],
        wallet_id=row["wallet_id"],
        campaign_id=row["campaign_id"],
        affiliate_id=row["affiliate_id"],
        amount_cents=row["amount_cents"],
        redeemed_at=row["redeemed_at"],
        status=d.RedemptionStatus(row["status"]),
        cancelled_at=row["cancelled_at"],
        batch_id=row["batch_id"],
    )


_TICKET_COLUMNS = """t.ticket_id, t.wallet_id, t.campaign_id, t.amount_cents, t.valid_until, t.reserved_for,
    t.status, t.redemption_id, t.redeemed_at, t.redeemed_by, t.code_suffix"""

_LOOK = f"""
SELECT a.affiliate_id, a.active, a.unknown_codes_tat, {_TICKET_COLUMNS},
       i.fingerprint, i.status_code, i.answer
FROM (SELECT 1) AS one
LEFT JOIN affiliates a ON a.affiliate_id = $1
LEFT JOIN tickets t ON t.code_hash = $2
LEFT JOIN idempotency_keys i ON i.affiliate_id = $1 AND i.idempotency_key = $3
"""

# Spend: the WHERE clause repeats domain.check_redemption, and pins the amount and ticket the
# answer and the event were built from. Nothing else is written unless the UPDATE won.
_SPEND = """
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
    INSERT INTO outbox (event_id, topic, message_key, event_type, envelope, headers)
    SELECT $9, $10, $11, $12, $13::jsonb, $14::jsonb FROM spent
)
SELECT pg_notify($15, '') FROM spent
"""

# A refusal about the ticket is kept as the key's first answer, with its RedemptionRejected event;
# an unknown code also moves the affiliate's guessing pace on (GuessingLimit.after_unknown_code,
# done in SQL so that concurrent unknown codes all count).
_KEEP_REFUSAL = """
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
    INSERT INTO outbox (event_id, topic, message_key, event_type, envelope, headers)
    SELECT $9, $10, $11, $12, $13::jsonb, $14::jsonb FROM kept
)
SELECT pg_notify($15, '') FROM kept
"""

_NOTE_UNKNOWN_CODE = """
UPDATE affiliates SET unknown_codes_tat = greatest(coalesce(unknown_codes_tat, $2), $2) + $3::interval
WHERE affiliate_id = $1
"""


class RedemptionStore:
    def __init__(self, pool_of: Callable[[], asyncpg.Pool], limit: d.GuessingLimit):
        self._pool_of = pool_of  # the pool exists once the service has started
        self.limit = limit

    @property
    def pool(self) -> asyncpg.Pool:
        return self._pool_of()

    # --- the scanner's path ----------------------------------------------------------------

    async def look(self, conn: asyncpg.Connection, affiliate_id: str, code_hash: str, idempotency_key: str | None) -> Look:
        row = await conn.fetchrow(_LOOK, affiliate_id, code_hash, idempotency_key)
        affiliate = (
            d.Affiliate(row["affiliate_id"], row["active"], row["unknown_codes_tat"]) if row["affiliate_id"] else None
        )
        ticket = _ticket(row) if row["ticket_id"] else None
        stored = (
            StoredAnswer(row["fingerprint"], row["status_code"], row["answer"]) if row["fingerprint"] is not None else None
        )
        return Look(affiliate, ticket, row["code_suffix"], stored)

    async def spend(
        self, conn: asyncpg.Connection, redemption: d.Redemption, code_hash: str, idempotency_key: str, event: OutboxRow
    ) -> bool:
        """True if this request won the ticket; False if the ticket changed since `look`.

        Raises asyncpg.UniqueViolationError when the key was taken meanwhile (nothing is written).
        """
        row = await conn.fetchrow(
            _SPEND,
            uuid.UUID(redemption.redemption_id),
            redemption.redeemed_at,
            redemption.affiliate_id,
            code_hash,
            redemption.ticket_id,
            redemption.amount_cents,
            idempotency_key,
            redemption.answer(),
            event.event_id,
            event.topic,
            event.message_key,
            event.event_type,
            event.envelope,
            event.headers,
            NOTIFY_CHANNEL,
        )
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
        event: OutboxRow,
    ) -> bool:
        """False if the key was taken meanwhile: the caller reads its first answer."""
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
            event.event_id,
            event.topic,
            event.message_key,
            event.event_type,
            event.envelope,
            event.headers,
            NOTIFY_CHANNEL,
        )
        return row is not None

    async def note_unknown_code(self, conn: asyncpg.Connection, affiliate_id: str, now: datetime) -> None:
        await conn.execute(_NOTE_UNKNOWN_CODE, affiliate_id, now, self.limit.interval)

    # --- the affiliate's list and cancel ---------------------------------------------------

    async def redemptions_of(
        self, affiliate_id: str, since: datetime | None, until: datetime | None, limit: int
    ) -> list[tuple[d.Redemption, str]]:
        rows = await self.pool.fetch(
            """
            SELECT r.*, t.code_suffix FROM redemptions r JOIN tickets t USING (ticket_id)
            WHERE r.affiliate_id = $1
              AND ($2::timestamptz IS NULL OR r.redeemed_at >= $2)
              AND ($3::timestamptz IS NULL OR r.redeemed_at < $3)
            ORDER BY r.redeemed_at, r.redemption_id
            LIMIT $4
            """,
            affiliate_id,
            since,
            until,
            limit,
        )
        return [(_redemption(r), r["code_suffix"]) for r in rows]

    async def redemption_for_update(
        self, conn: asyncpg.Connection, redemption_id: uuid.UUID
    ) -> tuple[d.Redemption, d.Ticket, d.Campaign | None] | None:
        row = await conn.fetchrow(
            """
            SELECT r.*, t.valid_until, t.reserved_for, t.redeemed_by,
                   t.status AS ticket_status, t.redemption_id AS ticket_redemption_id,
                   t.redeemed_at AS ticket_redeemed_at, c.redemption_cancel_grace_minutes
            FROM redemptions r
            JOIN tickets t USING (ticket_id)
            LEFT JOIN campaigns c ON c.campaign_id = r.campaign_id
            WHERE r.redemption_id = $1
            FOR UPDATE OF r, t
            """,
            redemption_id,
        )
        if row is None:
            return None
        redemption = _redemption(row)
        ticket = d.Ticket(
            ticket_id=row["ticket_id"],
            wallet_id=row["wallet_id"],
            campaign_id=row["campaign_id"],
            amount_cents=row["amount_cents"],
            valid_until=row["valid_until"],
            reserved_for=row["reserved_for"],
            status=d.TicketStatus(row["ticket_status"]),
            redemption_id=str(row["ticket_redemption_id"]) if row["ticket_redemption_id"] else None,
            redeemed_at=row["ticket_redeemed_at"],
            redeemed_by=row["redeemed_by"],
        )
        grace = row["redemption_cancel_grace_minutes"]
        campaign = d.Campaign(redemption.campaign_id, grace) if grace is not None else None
        return redemption, ticket, campaign

    async def save_cancel(self, conn: asyncpg.Connection, redemption: d.Redemption, ticket: d.Ticket) -> None:
        await conn.execute(
            "UPDATE redemptions SET status = $2, cancelled_at = $3 WHERE redemption_id = $1",
            uuid.UUID(redemption.redemption_id),
            redemption.status.value,
            redemption.cancelled_at,
        )
        await self.save_ticket_state(conn, ticket)

    # --- consumers ----------------------------------------------------------------------------

    async def ticket_for_update(self, conn: asyncpg.Connection, ticket_id: str) -> d.Ticket | None:
        row = await conn.fetchrow(f"SELECT {_TICKET_COLUMNS} FROM tickets t WHERE t.ticket_id = $1 FOR UPDATE", ticket_id)
        return _ticket(row) if row else None

    async def save_credited(self, conn: asyncpg.Connection, ticket: d.Ticket, code_hash: str, code_suffix: str) -> None:
        await conn.execute(
            """
            INSERT INTO tickets (ticket_id, code_hash, code_suffix, wallet_id, campaign_id, amount_cents,
                                 valid_until, valid_through, reserved_for, status)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'redeemable')
            ON CONFLICT (ticket_id) DO UPDATE SET
                code_hash = EXCLUDED.code_hash, code_suffix = EXCLUDED.code_suffix,
                wallet_id = EXCLUDED.wallet_id, campaign_id = EXCLUDED.campaign_id,
                amount_cents = EXCLUDED.amount_cents, valid_until = EXCLUDED.valid_until,
                valid_through = EXCLUDED.valid_through, reserved_for = EXCLUDED.reserved_for,
                status = 'redeemable', redemption_id = NULL, redeemed_at = NULL, redeemed_by = NULL,
                updated_at = now()
            """,
            ticket.ticket_id,
            code_hash,
            code_suffix,
            ticket.wallet_id,
            ticket.campaign_id,
            ticket.amount_cents,
            ticket.valid_until,
            ticket.valid_through,
            ticket.reserved_for,
        )

    async def save_ticket_state(self, conn: asyncpg.Connection, ticket: d.Ticket) -> None:
        await conn.execute(
            """
            UPDATE tickets SET status = $2, reserved_for = $3, redemption_id = $4, redeemed_at = $5,
                               redeemed_by = $6, updated_at = now()
            WHERE ticket_id = $1
            """,
            ticket.ticket_id,
            ticket.status.value,
            ticket.reserved_for,
            uuid.UUID(ticket.redemption_id) if ticket.redemption_id else None,
            ticket.redeemed_at,
            ticket.redeemed_by,
        )

    async def set_affiliate_active(self, conn: asyncpg.Connection, affiliate_id: str, active: bool) -> None:
        await conn.execute(
            """
            INSERT INTO affiliates (affiliate_id, active) VALUES ($1, $2)
            ON CONFLICT (affiliate_id) DO UPDATE SET active = EXCLUDED.active, updated_at = now()
            """,
            affiliate_id,
            active,
        )

    async def save_campaign(
        self, conn: asyncpg.Connection, campaign: d.Campaign, pass_valid_until: date
    ) -> None:
        await conn.execute(
            """
            INSERT INTO campaigns (campaign_id, pass_valid_until, redemption_cancel_grace_minutes) VALUES ($1, $2, $3)
            ON CONFLICT (campaign_id) DO UPDATE SET
                pass_valid_until = EXCLUDED.pass_valid_until,
                redemption_cancel_grace_minutes = EXCLUDED.redemption_cancel_grace_minutes
            """,
            campaign.campaign_id,
            pass_valid_until,
            campaign.redemption_cancel_grace_minutes,
        )
        # A campaign whose validity moves (extended by a month, say) moves its tickets' validity with it.
        await conn.execute(
            """
            UPDATE tickets SET valid_until = $2, valid_through = $3, updated_at = now()
            WHERE campaign_id = $1 AND valid_until <> $2
            """,
            campaign.campaign_id,
            pass_valid_until,
            d.validity_end(pass_valid_until),
        )

    async def lock_in_batch(self, conn: asyncpg.Connection, batch_id: str, redemption_ids: list[str]) -> int:
        ids = []
        for value in redemption_ids:
            try:
                ids.append(uuid.UUID(value))
            except ValueError:
                continue
        result = await conn.execute(
            "UPDATE redemptions SET batch_id = $1 WHERE redemption_id = ANY($2::uuid[]) AND batch_id IS NULL",
            batch_id,
            ids,
        )
        return int(result.split()[-1])

    async def add_event(self, conn: asyncpg.Connection, event: OutboxRow) -> None:
        await conn.execute(
            """
            INSERT INTO outbox (event_id, topic, message_key, event_type, envelope, headers)
            VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb)
            """,
            event.event_id,
            event.topic,
            event.message_key,
            event.event_type,
            event.envelope,
            event.headers,
        )
        await conn.execute("SELECT pg_notify($1, '')", NOTIFY_CHANNEL)

    async def forget_old_keys(self, older_than: timedelta) -> None:
        await self.pool.execute(
            "DELETE FROM idempotency_keys WHERE created_at < now() - $1::interval", older_than
        )
