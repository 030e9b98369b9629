"""Messages and broadcasts in PostgreSQL (asyncpg, SQL written out; indexes are in migrations/)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import asyncpg

from carnet_runtime.repository import Repository

from ..domain import (
    About,
    Attempt,
    Audience,
    Broadcast,
    BroadcastPlan,
    BroadcastStatus,
    Delivery,
    Message,
    MessageState,
    NewMessage,
    SealedSecret,
    SecretKind,
    SheetRequest,
    Template,
)

_OUTCOMES = {MessageState.SENT: "sent", MessageState.FAILED: "failed", MessageState.PENDING: "retry"}

# What a message keeps once its personal data is erased (retention, a campaign's purge, a family's
# erasure): template, state, attempts, dates, campaign, and its subject with personal parts masked;
# one not sent yet fails with the reason $2. $1 is now.
ANONYMISED = """
    recipient = NULL, subject = impersonal_subject, body_text = NULL, body_html = NULL, attachment = NULL,
    sealed_secret = NULL, application_ids = '{}', wallet_ids = '{}', family_subs = '{}', forgotten_at = $1,
    failed_at = CASE WHEN state IN ('pending', 'sending') THEN $1::timestamptz ELSE failed_at END,
    last_error = CASE WHEN state IN ('pending', 'sending') THEN $2::text ELSE last_error END,
    state = CASE WHEN state IN ('pending', 'sending') THEN 'failed' ELSE state END,
    lease_until = NULL
"""


class MessageRepository(Repository):
    async def add(self, message: NewMessage) -> bool:
        """Queue a message; False when this (event, template) was already queued."""
        created = await self.conn.fetchval(
            """
            INSERT INTO messages (message_id, event_id, source_event_id, template, campaign_id, recipient,
                                  subject, body_text, body_html, attachment, sealed_secret, forget_at,
                                  next_attempt_at, application_ids, wallet_ids, family_subs, impersonal_subject)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, $11::jsonb, $12, coalesce($13, now()),
                    $14, $15, $16, $17)
            ON CONFLICT (event_id, template) DO NOTHING
            RETURNING true
            """,
            message.message_id, message.event_id, message.source_event_id, message.template.value,
            message.campaign_id, message.recipient, message.rendered.subject, message.rendered.text,
            message.rendered.html, _attachment_json(message.attachment), _secret_json(message.secret),
            message.forget_at, message.not_before, list(message.about.application_ids),
            list(message.about.wallet_ids), list(message.about.family_subs), message.impersonal_subject,
        )
        return bool(created)

    async def claim_due(self, now: datetime, limit: int, lease: timedelta) -> list[Message]:
        """Take due messages for this worker alone (another replica skips them), and mark them sending.
        A message left 'sending' by a worker that died is taken again once its lease is over."""
        rows = await self.conn.fetch(
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
        return [_message(row) for row in rows]

    async def conclude(self, message_id: uuid.UUID, delivery: Delivery, now: datetime, *,
                       forget_secret: bool) -> bool:
        """Write the outcome of the attempt numbered delivery.attempts, with its log line, and drop the
        sealed secret when told; False if the message was meanwhile taken by another worker (its
        lease ran out), whose outcome will count instead."""
        updated = await self.conn.fetchval(
            """
            UPDATE messages
            SET state = $3, next_attempt_at = coalesce($4, next_attempt_at), sent_at = $5,
                failed_at = CASE WHEN $3 = 'failed' THEN $6::timestamptz END, last_error = $7, lease_until = NULL,
                sealed_secret = CASE WHEN $8 THEN NULL ELSE sealed_secret END
            WHERE message_id = $1 AND state = 'sending' AND attempts = $2
            RETURNING true
            """,
            message_id, delivery.attempts, delivery.state.value, delivery.next_attempt_at, delivery.sent_at, now,
            delivery.last_error, forget_secret,
        )
        if not updated:
            return False
        outcome = _OUTCOMES[delivery.state]
        await self.conn.execute(
            """
            INSERT INTO delivery_log (message_id, attempt, at, outcome, detail) VALUES ($1, $2, $3, $4, $5)
            ON CONFLICT DO NOTHING
            """,
            message_id, delivery.attempts, now, outcome, None if outcome == "sent" else delivery.last_error,
        )
        return True

    async def list(self, recipient: str | None, limit: int, before: datetime | None) -> list[Message]:
        """Newest first, with each message's delivery log."""
        rows = await self.conn.fetch(
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
        return [
            _message(row, tuple(
                Attempt(attempt=e["attempt"], at=datetime.fromisoformat(e["at"]), outcome=e["outcome"],
                        detail=e["detail"])
                for e in row["log"]
            ))
            for row in rows
        ]

    async def count_by_state(self) -> dict[MessageState, int]:
        rows = await self.conn.fetch("SELECT state, count(*) AS n FROM messages GROUP BY state")
        return {MessageState(r["state"]): r["n"] for r in rows}


def _attachment_json(sheet: SheetRequest | None) -> dict | None:
    if sheet is None:
        return None
    return {"wallet_id": sheet.wallet_id, "positions": list(sheet.positions), "request_id": sheet.request_id,
            "filename": sheet.filename}


def _secret_json(secret: SealedSecret | None) -> dict | None:
    if secret is None:
        return None
    return {"kind": secret.kind.value, "sealed": secret.sealed, "link_base": secret.link_base}


_DELIVERY_COLUMNS = ("attempts", "next_attempt_at", "first_attempt_at", "last_attempt_at", "sent_at", "last_error")
_MESSAGE_COLUMNS = ("message_id", "recipient", "subject", "created_at", "campaign_id", "source_event_id", "failed_at",
                    "forgotten_at")


def _message(row: asyncpg.Record, log: tuple[Attempt, ...] = ()) -> Message:
    sheet, secret = row["attachment"], row["sealed_secret"]
    return Message(
        **{column: row[column] for column in _MESSAGE_COLUMNS},
        template=Template(row["template"]),
        text=row["body_text"],
        html=row["body_html"],
        delivery=Delivery(state=MessageState(row["state"]), **{column: row[column] for column in _DELIVERY_COLUMNS}),
        attachment=None if not sheet else SheetRequest(
            wallet_id=sheet["wallet_id"], positions=tuple(sheet["positions"]), request_id=sheet.get("request_id"),
            filename=sheet.get("filename", "tickets.pdf"),
        ),
        secret=None if not secret else SealedSecret(
            kind=SecretKind(secret["kind"]), sealed=secret["sealed"], link_base=secret.get("link_base"),
        ),
        log=log,
        about=about_of(row),
    )


def about_of(row: asyncpg.Record) -> About:
    return About.of(row["application_ids"] or (), row["wallet_ids"] or (), row["family_subs"] or ())


class BroadcastRepository(Repository):
    async def add(self, broadcast_id: uuid.UUID, plan: BroadcastPlan, requested_by: str) -> Broadcast:
        row = await self.conn.fetchrow(
            """
            INSERT INTO broadcasts (broadcast_id, audience, subject, body, send_at, requested_by)
            VALUES ($1, $2, $3, $4, $5, $6) RETURNING *
            """,
            broadcast_id, plan.audience.value, plan.subject, plan.body, plan.send_at, requested_by,
        )
        return _broadcast(row)

    async def claim_due(self, now: datetime, limit: int = 5) -> list[Broadcast]:
        """Due broadcasts, locked until the transaction ends (another replica skips them)."""
        rows = await self.conn.fetch(
            """
            SELECT * FROM broadcasts WHERE state = 'scheduled' AND send_at <= $1
            ORDER BY send_at LIMIT $2 FOR UPDATE SKIP LOCKED
            """,
            now, limit,
        )
        return [_broadcast(row) for row in rows]

    async def mark_expanded(self, broadcast_id: uuid.UUID, count: int, now: datetime) -> None:
        await self.conn.execute(
            "UPDATE broadcasts SET state = 'expanded', recipient_count = $2, expanded_at = $3 WHERE broadcast_id = $1",
            broadcast_id, count, now,
        )

    async def get(self, broadcast_id: uuid.UUID) -> Broadcast | None:
        """The broadcast and how its messages stand (a broadcast's messages name it as their source)."""
        row = await self.conn.fetchrow(
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
        return _broadcast(row, row["messages_by_state"]) if row else None


_BROADCAST_COLUMNS = ("broadcast_id", "subject", "body", "send_at", "created_at", "recipient_count", "expanded_at")


def _broadcast(row: asyncpg.Record, messages_by_state: dict | None = None) -> Broadcast:
    return Broadcast(
        **{column: row[column] for column in _BROADCAST_COLUMNS},
        audience=Audience(row["audience"]),
        status=BroadcastStatus(row["state"]),
        messages_by_state=dict(messages_by_state or {}),
    )
