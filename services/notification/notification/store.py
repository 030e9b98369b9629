"""The notification service's SQL, written out (asyncpg). Indexes are in migrations/."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta

import asyncpg

from .domain import Audience, Delivery, MessageState, Template, campaign_ends
from .rendering import RenderedMessage

_MESSAGE_NAMESPACE = uuid.UUID("6b1f6a52-4c2e-4a57-9d1c-2f0e5c6a7b11")


def message_id_for(event_id: uuid.UUID, template: Template) -> uuid.UUID:
    """Deterministic: the same (event, template) is the same message, wherever it is computed."""
    return uuid.uuid5(_MESSAGE_NAMESPACE, f"{event_id}:{template.value}")


# --- campaigns and retention ------------------------------------------------------------------


async def save_campaign(
    conn: asyncpg.Connection, campaign_id: str, label: str, pass_valid_until: date, reimbursement_deadline: date
) -> None:
    await conn.execute(
        """
        INSERT INTO campaigns (campaign_id, label, pass_valid_until, reimbursement_deadline)
        VALUES ($1, $2, $3, $4)
        ON CONFLICT (campaign_id) DO UPDATE
        SET label = EXCLUDED.label, pass_valid_until = EXCLUDED.pass_valid_until,
            reimbursement_deadline = EXCLUDED.reimbursement_deadline
        """,
        campaign_id, label, pass_valid_until, reimbursement_deadline,
    )


async def campaign_end(conn: asyncpg.Connection, campaign_id: str | None) -> date | None:
    if campaign_id is None:
        return None
    row = await conn.fetchrow(
        "SELECT pass_valid_until, reimbursement_deadline FROM campaigns WHERE campaign_id = $1", campaign_id
    )
    return campaign_ends(row["pass_valid_until"], row["reimbursement_deadline"]) if row else None


async def reschedule_forgetting(conn: asyncpg.Connection, campaign_id: str, forget_at: datetime) -> None:
    """A campaign's dates changed or became known: its personal data is forgotten on the new date."""
    await conn.execute(
        "UPDATE messages SET forget_at = $2 WHERE campaign_id = $1 AND forgotten_at IS NULL", campaign_id, forget_at
    )
    await conn.execute("UPDATE families SET forget_at = $2 WHERE campaign_id = $1", campaign_id, forget_at)
    await conn.execute("UPDATE wallet_readiness SET forget_at = $2 WHERE campaign_id = $1", campaign_id, forget_at)


async def forget_due(conn: asyncpg.Connection, now: datetime) -> int:
    """Erase recipients, subjects and bodies whose time has come; keep the log's facts."""
    erased = await conn.fetchval(
        """
        WITH gone AS (
            UPDATE messages
            SET recipient = NULL, subject = NULL, body_text = NULL, body_html = NULL, attachment = NULL,
                forgotten_at = $1,
                state = CASE WHEN state IN ('pending', 'sending') THEN 'failed' ELSE state END,
                last_error = CASE WHEN state IN ('pending', 'sending') THEN 'oublié avant envoi (fin de conservation)'
                                  ELSE last_error END
            WHERE forget_at <= $1 AND forgotten_at IS NULL
            RETURNING 1
        )
        SELECT count(*) FROM gone
        """,
        now,
    )
    await conn.execute("DELETE FROM families WHERE forget_at <= $1", now)
    await conn.execute("DELETE FROM wallet_readiness WHERE forget_at <= $1", now)
    return erased


# --- people the service may write to ------------------------------------------------------------


async def remember_family(
    conn: asyncpg.Connection, application_id: str, campaign_id: str, email: str, forget_at: datetime
) -> None:
    await conn.execute(
        """
        INSERT INTO families (application_id, campaign_id, guardian_email, forget_at) VALUES ($1, $2, $3, $4)
        ON CONFLICT (application_id) DO UPDATE SET guardian_email = EXCLUDED.guardian_email
        """,
        application_id, campaign_id, email, forget_at,
    )


async def remember_correspondent(conn: asyncpg.Connection, school_id: str, email: str | None) -> None:
    if email is None:
        await conn.execute("DELETE FROM correspondents WHERE school_id = $1", school_id)
        return
    await conn.execute(
        """
        INSERT INTO correspondents (school_id, email) VALUES ($1, $2)
        ON CONFLICT (school_id) DO UPDATE SET email = EXCLUDED.email
        """,
        school_id, email,
    )


async def remember_affiliate(conn: asyncpg.Connection, affiliate_id: str, name: str | None, email: str) -> None:
    await conn.execute(
        """
        INSERT INTO affiliates (affiliate_id, name, contact_email) VALUES ($1, $2, $3)
        ON CONFLICT (affiliate_id) DO UPDATE
        SET contact_email = EXCLUDED.contact_email, name = coalesce(EXCLUDED.name, affiliates.name)
        """,
        affiliate_id, name, email,
    )


async def set_affiliate_suspended(conn: asyncpg.Connection, affiliate_id: str, suspended: bool) -> None:
    await conn.execute("UPDATE affiliates SET suspended = $2 WHERE affiliate_id = $1", affiliate_id, suspended)


async def audience_addresses(conn: asyncpg.Connection, audience: Audience) -> list[str]:
    query = {
        Audience.FAMILIES: "SELECT guardian_email FROM families ORDER BY application_id",
        Audience.AFFILIATES: "SELECT contact_email FROM affiliates WHERE NOT suspended ORDER BY affiliate_id",
        Audience.CORRESPONDENTS: "SELECT email FROM correspondents ORDER BY school_id",
    }[audience]
    return [r[0] for r in await conn.fetch(query)]


# --- the wallet-ready join ----------------------------------------------------------------------


async def record_grant(
    conn: asyncpg.Connection,
    application_id: str,
    campaign_id: str,
    granted: dict,
    recipient: str,
    granted_event_id: uuid.UUID,
    forget_at: datetime,
) -> asyncpg.Record:
    """Record PassGranted's part; the row returned holds WalletCreated's part if it came first.
    The upsert locks the row, so of two concurrent halves the later one sees both."""
    return await conn.fetchrow(
        """
        INSERT INTO wallet_readiness (application_id, campaign_id, granted, recipient, granted_event_id, forget_at)
        VALUES ($1, $2, $3::jsonb, $4, $5, $6)
        ON CONFLICT (application_id) DO UPDATE
        SET granted = EXCLUDED.granted, recipient = EXCLUDED.recipient,
            granted_event_id = EXCLUDED.granted_event_id, campaign_id = EXCLUDED.campaign_id
        RETURNING *
        """,
        application_id, campaign_id, granted, recipient, granted_event_id, forget_at,
    )


async def record_wallet(
    conn: asyncpg.Connection, application_id: str, campaign_id: str, wallet_event_id: uuid.UUID, forget_at: datetime
) -> asyncpg.Record:
    return await conn.fetchrow(
        """
        INSERT INTO wallet_readiness (application_id, campaign_id, wallet_event_id, forget_at)
        VALUES ($1, $2, $3, $4)
        ON CONFLICT (application_id) DO UPDATE SET wallet_event_id = EXCLUDED.wallet_event_id
        RETURNING *
        """,
        application_id, campaign_id, wallet_event_id, forget_at,
    )


# --- messages --------------------------------------------------------------------------------------


async def enqueue(
    conn: asyncpg.Connection,
    *,
    event_id: uuid.UUID,
    template: Template,
    recipient: str,
    rendered: RenderedMessage,
    forget_at: datetime,
    campaign_id: str | None = None,
    source_event_id: uuid.UUID | None = None,
    attachment: dict | None = None,
    not_before: datetime | None = None,
) -> bool:
    """Queue a message; False when this (event, template) was already queued."""
    created = await conn.fetchval(
        """
        INSERT INTO messages (message_id, event_id, source_event_id, template, campaign_id, recipient,
                              subject, body_text, body_html, attachment, forget_at, next_attempt_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, $11, coalesce($12, now()))
        ON CONFLICT (event_id, template) DO NOTHING
        RETURNING true
        """,
        message_id_for(event_id, template), event_id, source_event_id, template.value, campaign_id, recipient,
        rendered.subject, rendered.text, rendered.html, attachment, forget_at, not_before,
    )
    return bool(created)


async def claim_due(conn: asyncpg.Connection, now: datetime, limit: int, lease: timedelta) -> list[asyncpg.Record]:
    """Take due messages for this worker alone (another replica skips them), and mark them sending.
    A message left 'sending' by a worker that died is taken again once its lease is over."""
    return await conn.fetch(
        """
        WITH due AS (
            SELECT message_id FROM messages
            WHERE (state = 'pending' AND next_attempt_at <= $1) OR (state = 'sending' AND lease_until < $1)
            ORDER BY next_attempt_at
            LIMIT $2
            FOR UPDATE SKIP LOCKED
        )
        UPDATE messages m
        SET state = 'sending', attempts = m.attempts + 1, lease_until = $1 + $3::interval,
            first_attempt_at = coalesce(m.first_attempt_at, $1), last_attempt_at = $1
        FROM due WHERE m.message_id = due.message_id
        RETURNING m.*
        """,
        now, limit, lease,
    )


def delivery_of(row: asyncpg.Record) -> Delivery:
    return Delivery(
        state=MessageState(row["state"]),
        attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"],
        first_attempt_at=row["first_attempt_at"],
        last_attempt_at=row["last_attempt_at"],
        sent_at=row["sent_at"],
        last_error=row["last_error"],
    )


async def conclude(conn: asyncpg.Connection, message_id: uuid.UUID, delivery: Delivery, now: datetime) -> bool:
    """Write the outcome of the attempt numbered delivery.attempts; False if the message was
    meanwhile taken by another worker (its lease ran out), whose outcome will count instead."""
    updated = await conn.fetchval(
        """
        UPDATE messages
        SET state = $3, next_attempt_at = coalesce($4, next_attempt_at), sent_at = $5,
            failed_at = CASE WHEN $3 = 'failed' THEN $6::timestamptz END, last_error = $7, lease_until = NULL
        WHERE message_id = $1 AND state = 'sending' AND attempts = $2
        RETURNING true
        """,
        message_id, delivery.attempts, delivery.state.value, delivery.next_attempt_at, delivery.sent_at, now,
        delivery.last_error,
    )
    if not updated:
        return False
    outcome = {MessageState.SENT: "sent", MessageState.FAILED: "failed", MessageState.PENDING: "retry"}[delivery.state]
    await conn.execute(
        """
        INSERT INTO delivery_log (message_id, attempt, at, outcome, detail) VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT DO NOTHING
        """,
        message_id, delivery.attempts, now, outcome, None if outcome == "sent" else delivery.last_error,
    )
    return True


async def list_messages(
    conn: asyncpg.Connection, recipient: str | None, limit: int, before: datetime | None
) -> list[dict]:
    rows = await conn.fetch(
        """
        SELECT m.*, coalesce(
            (SELECT json_agg(json_build_object('attempt', l.attempt, 'at', l.at, 'outcome', l.outcome,
                                               'detail', l.detail) ORDER BY l.attempt)
             FROM delivery_log l WHERE l.message_id = m.message_id), '[]'::json) AS log
        FROM messages m
        WHERE ($1::text IS NULL OR m.recipient = $1) AND ($3::timestamptz IS NULL OR m.created_at < $3)
        ORDER BY m.created_at DESC, m.message_id
        LIMIT $2
        """,
        recipient, limit, before,
    )
    return [dict(r) for r in rows]


# --- broadcasts ---------------------------------------------------------------------------------


async def create_broadcast(
    conn: asyncpg.Connection, broadcast_id: uuid.UUID, audience: Audience, subject: str, body: str,
    send_at: datetime, requested_by: str,
) -> asyncpg.Record:
    return await conn.fetchrow(
        """
        INSERT INTO broadcasts (broadcast_id, audience, subject, body, send_at, requested_by)
        VALUES ($1, $2, $3, $4, $5, $6) RETURNING *
        """,
        broadcast_id, audience.value, subject, body, send_at, requested_by,
    )


async def claim_due_broadcasts(conn: asyncpg.Connection, now: datetime, limit: int = 5) -> list[asyncpg.Record]:
    return await conn.fetch(
        """
        SELECT * FROM broadcasts WHERE state = 'scheduled' AND send_at <= $1
        ORDER BY send_at LIMIT $2 FOR UPDATE SKIP LOCKED
        """,
        now, limit,
    )


async def mark_expanded(conn: asyncpg.Connection, broadcast_id: uuid.UUID, count: int, now: datetime) -> None:
    await conn.execute(
        "UPDATE broadcasts SET state = 'expanded', recipient_count = $2, expanded_at = $3 WHERE broadcast_id = $1",
        broadcast_id, count, now,
    )


async def get_broadcast(conn: asyncpg.Connection, broadcast_id: uuid.UUID) -> dict | None:
    """The broadcast and how its messages stand (a broadcast's messages name it as their source)."""
    row = await conn.fetchrow(
        """
        SELECT b.*, coalesce(
            (SELECT json_object_agg(s.state, s.n) FROM (
                SELECT state, count(*) AS n FROM messages
                WHERE source_event_id = b.broadcast_id AND template = 'broadcast' GROUP BY state) s),
            '{}'::json) AS messages_by_state
        FROM broadcasts b WHERE b.broadcast_id = $1
        """,
        broadcast_id,
    )
    return dict(row) if row else None
