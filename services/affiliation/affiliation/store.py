"""The affiliation service's SQL, written out. Every function runs on the caller's connection,
inside the caller's transaction."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import asyncpg

from .domain.account import LoginThrottle, StoredToken, TokenPurpose
from .domain.convention import AuditRecord, ConventionProgress, ConventionStep
from .domain.organisation import AffiliateStatus, Organisation
from .domain.reimbursement import CampaignTerms, LineStatus, Payee, StatementLine

Conn = asyncpg.Connection


# --- affiliates ---------------------------------------------------------------------------


async def siret_taken(conn: Conn, siret: str) -> bool:
    return bool(await conn.fetchval("SELECT 1 FROM affiliates WHERE siret = $1", siret))


async def free_login(conn: Conn, candidates: list[str]) -> str:
    taken = {r["login"] for r in await conn.fetch("SELECT login FROM affiliates WHERE login = ANY($1)", candidates)}
    return next(login for login in candidates if login not in taken)


async def insert_affiliate(
    conn: Conn, affiliate_id: str, organisation: Organisation, bic: str | None, login: str, now: datetime
) -> None:
    await conn.execute(
        """
        INSERT INTO affiliates (affiliate_id, name, siret, activity, address_line, postcode, city,
                                contact_email, iban, bic, login, created_at, updated_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)
        """,
        affiliate_id,
        organisation.name,
        organisation.siret,
        organisation.activity.value,
        organisation.address.line,
        organisation.address.postcode,
        organisation.address.city,
        organisation.contact_email,
        organisation.iban,
        bic,
        login,
        now,
    )


async def affiliate(conn: Conn, affiliate_id: str, *, for_update: bool = False) -> asyncpg.Record | None:
    lock = " FOR UPDATE" if for_update else ""
    return await conn.fetchrow(f"SELECT * FROM affiliates WHERE affiliate_id = $1{lock}", affiliate_id)


async def affiliate_by_login(conn: Conn, login: str, *, for_update: bool = False) -> asyncpg.Record | None:
    lock = " FOR UPDATE" if for_update else ""
    return await conn.fetchrow(f"SELECT * FROM affiliates WHERE login = $1{lock}", login.strip().lower())


async def affiliate_by_login_or_email(conn: Conn, identifier: str) -> asyncpg.Record | None:
    """A reset request names the login or the contact e-mail; an e-mail shared by several takes the oldest."""
    return await conn.fetchrow(
        """
        SELECT * FROM affiliates WHERE login = lower($1) OR lower(contact_email) = lower($1)
        ORDER BY (login = lower($1)) DESC, created_at LIMIT 1
        """,
        identifier.strip(),
    )


async def set_status(conn: Conn, affiliate_id: str, status: AffiliateStatus, now: datetime) -> None:
    await conn.execute(
        "UPDATE affiliates SET status = $2, updated_at = $3 WHERE affiliate_id = $1", affiliate_id, status.value, now
    )


async def set_password(
    conn: Conn, affiliate_id: str, password_hash: str, now: datetime, *, activate_account: bool
) -> None:
    """A new password also lifts any lock: the person proved they own the mailbox."""
    await conn.execute(
        """
        UPDATE affiliates
        SET password_hash = $2, failed_logins = 0, locked_until = NULL, updated_at = $3,
            account_activated_at = CASE WHEN $4 THEN coalesce(account_activated_at, $3) ELSE account_activated_at END,
            status = CASE WHEN $4 AND status = 'invited' THEN 'convention_pending' ELSE status END
        WHERE affiliate_id = $1
        """,
        affiliate_id,
        password_hash,
        now,
        activate_account,
    )


async def rehash_password(conn: Conn, affiliate_id: str, password_hash: str) -> None:
    await conn.execute("UPDATE affiliates SET password_hash = $2 WHERE affiliate_id = $1", affiliate_id, password_hash)


def throttle_of(row: asyncpg.Record) -> LoginThrottle:
    return LoginThrottle(failed_attempts=row["failed_logins"], locked_until=row["locked_until"])


async def save_throttle(conn: Conn, affiliate_id: str, throttle: LoginThrottle) -> None:
    await conn.execute(
        "UPDATE affiliates SET failed_logins = $2, locked_until = $3 WHERE affiliate_id = $1",
        affiliate_id,
        throttle.failed_attempts,
        throttle.locked_until,
    )


def progress_of(row: asyncpg.Record) -> ConventionProgress:
    return ConventionProgress(
        step=ConventionStep(row["convention_step"]),
        version=row["convention_version"],
        sha256=row["convention_sha256"],
        otp_hash=row["otp_hash"],
        otp_expires_at=row["otp_expires_at"],
        otp_failed_attempts=row["otp_failed_attempts"],
    )


async def save_progress(conn: Conn, affiliate_id: str, progress: ConventionProgress, now: datetime) -> None:
    await conn.execute(
        """
        UPDATE affiliates
        SET convention_step = $2, convention_version = $3, convention_sha256 = $4, otp_hash = $5,
            otp_expires_at = $6, otp_failed_attempts = $7, updated_at = $8,
            signed_at = CASE WHEN $2 = 'signed' THEN $8 ELSE signed_at END
        WHERE affiliate_id = $1
        """,
        affiliate_id,
        progress.step.value,
        progress.version,
        progress.sha256,
        progress.otp_hash,
        progress.otp_expires_at,
        progress.otp_failed_attempts,
        now,
    )


async def directory(
    conn: Conn, *, city: str | None, activity: str | None, text: str | None, status: str, limit: int, offset: int
) -> list[asyncpg.Record]:
    return await conn.fetch(
        """
        SELECT affiliate_id, name, activity, address_line, postcode, city, status
        FROM affiliates
        WHERE status = $1
          AND ($2::text IS NULL OR lower(city) = lower($2))
          AND ($3::text IS NULL OR activity = $3)
          AND ($4::text IS NULL OR name ILIKE '%' || $4 || '%' OR city ILIKE '%' || $4 || '%')
        ORDER BY name, affiliate_id
        LIMIT $5 OFFSET $6
        """,
        status,
        city,
        activity,
        text,
        limit,
        offset,
    )


async def active_affiliates(conn: Conn) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM affiliates WHERE status = 'active' ORDER BY affiliate_id")


# --- one-time tokens ------------------------------------------------------------------------


async def replace_token(
    conn: Conn, affiliate_id: str, purpose: TokenPurpose, token_hash: str, expires_at: datetime, now: datetime
) -> None:
    """A new link retires the earlier unused ones: only the last e-mail works."""
    await conn.execute(
        """
        UPDATE account_tokens SET used_at = $3
        WHERE affiliate_id = $1 AND purpose = $2 AND used_at IS NULL
        """,
        affiliate_id,
        purpose.value,
        now,
    )
    await conn.execute(
        """
        INSERT INTO account_tokens (token_hash, affiliate_id, purpose, expires_at, created_at)
        VALUES ($1, $2, $3, $4, $5)
        """,
        token_hash,
        affiliate_id,
        purpose.value,
        expires_at,
        now,
    )


async def token(conn: Conn, token_hash: str, affiliate_id: str | None = None) -> tuple[StoredToken, str] | None:
    """The stored token and the account it belongs to, locked until the transaction ends."""
    row = await conn.fetchrow(
        """
        SELECT * FROM account_tokens
        WHERE token_hash = $1 AND ($2::text IS NULL OR affiliate_id = $2)
        FOR UPDATE
        """,
        token_hash,
        affiliate_id,
    )
    if row is None:
        return None
    stored = StoredToken(
        purpose=TokenPurpose(row["purpose"]),
        token_hash=row["token_hash"],
        expires_at=row["expires_at"],
        used_at=row["used_at"],
    )
    return stored, row["affiliate_id"]


async def mark_token_used(conn: Conn, token_hash: str, used_at: datetime) -> None:
    await conn.execute("UPDATE account_tokens SET used_at = $2 WHERE token_hash = $1", token_hash, used_at)


# --- audit trail ----------------------------------------------------------------------------


async def append_audit(conn: Conn, record: AuditRecord) -> None:
    await conn.execute(
        """
        INSERT INTO audit_trail (affiliate_id, action, account, client_address, at, document_version, document_sha256)
        VALUES ($1, $2, $3, $4, $5, $6, $7)
        """,
        record.affiliate_id,
        record.action,
        record.account,
        record.client_address,
        record.at,
        record.document_version,
        record.document_sha256,
    )


async def audit_trail(conn: Conn, affiliate_id: str) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM audit_trail WHERE affiliate_id = $1 ORDER BY id", affiliate_id)


# --- campaigns ------------------------------------------------------------------------------


async def upsert_campaign(
    conn: Conn,
    *,
    campaign_id: str,
    label: str,
    enrolment_opens: date,
    pass_valid_until: date,
    reimbursement_deadline: date,
    redemption_cancel_grace_minutes: int,
    now: datetime,
) -> None:
    await conn.execute(
        """
        INSERT INTO campaigns (campaign_id, label, enrolment_opens, pass_valid_until, reimbursement_deadline,
                               redemption_cancel_grace_minutes, updated_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7)
        ON CONFLICT (campaign_id) DO UPDATE
        SET label = excluded.label, enrolment_opens = excluded.enrolment_opens,
            pass_valid_until = excluded.pass_valid_until, reimbursement_deadline = excluded.reimbursement_deadline,
            redemption_cancel_grace_minutes = excluded.redemption_cancel_grace_minutes, updated_at = excluded.updated_at
        """,
        campaign_id,
        label,
        enrolment_opens,
        pass_valid_until,
        reimbursement_deadline,
        redemption_cancel_grace_minutes,
        now,
    )


async def campaign(conn: Conn, campaign_id: str, *, for_update: bool = False) -> asyncpg.Record | None:
    lock = " FOR UPDATE" if for_update else ""
    return await conn.fetchrow(f"SELECT * FROM campaigns WHERE campaign_id = $1{lock}", campaign_id)


def terms_of(row: asyncpg.Record) -> CampaignTerms:
    return CampaignTerms(
        campaign_id=row["campaign_id"],
        label=row["label"],
        reimbursement_deadline=row["reimbursement_deadline"],
        redemption_cancel_grace_minutes=row["redemption_cancel_grace_minutes"],
    )


async def campaigns_due_for_reminders(conn: Conn, today: date) -> list[asyncpg.Record]:
    return await conn.fetch(
        """
        SELECT * FROM campaigns
        WHERE logins_reminded_at IS NULL AND enrolment_opens <= $1 AND pass_valid_until >= $1
        ORDER BY enrolment_opens
        FOR UPDATE SKIP LOCKED
        """,
        today,
    )


async def mark_campaign_reminded(conn: Conn, campaign_id: str, now: datetime) -> None:
    await conn.execute("UPDATE campaigns SET logins_reminded_at = $2 WHERE campaign_id = $1", campaign_id, now)


async def record_reminder(conn: Conn, campaign_id: str, affiliate_id: str, now: datetime) -> bool:
    """True the first time this organisation is reminded for this campaign."""
    return bool(
        await conn.fetchval(
            """
            INSERT INTO login_reminders (campaign_id, affiliate_id, reminded_at) VALUES ($1, $2, $3)
            ON CONFLICT DO NOTHING RETURNING true
            """,
            campaign_id,
            affiliate_id,
            now,
        )
    )


# --- assigned tickets -----------------------------------------------------------------------


async def assign_ticket(conn: Conn, data: dict[str, Any]) -> None:
    await conn.execute(
        """
        INSERT INTO assigned_tickets (ticket_id, affiliate_id, wallet_id, campaign_id, code_suffix, amount_cents,
                                      valid_until, assigned_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
        ON CONFLICT (ticket_id) DO UPDATE
        SET affiliate_id = excluded.affiliate_id, amount_cents = excluded.amount_cents,
            valid_until = coalesce(excluded.valid_until, assigned_tickets.valid_until),
            assigned_at = excluded.assigned_at
        """,
        data["ticket_id"],
        data["affiliate_id"],
        data["wallet_id"],
        data["campaign_id"],
        data["code_suffix"],
        data["amount_cents"],
        data.get("valid_until"),
        data["assigned_at"],
    )


async def unassign_ticket(conn: Conn, ticket_id: str) -> None:
    await conn.execute("DELETE FROM assigned_tickets WHERE ticket_id = $1", ticket_id)


async def assigned_tickets(conn: Conn, affiliate_id: str) -> list[asyncpg.Record]:
    """Each assigned ticket with whether it was already redeemed (and not cancelled)."""
    return await conn.fetch(
        """
        SELECT t.*, s.redeemed_at
        FROM assigned_tickets t
        LEFT JOIN statement_lines s ON s.ticket_id = t.ticket_id AND s.status <> 'cancelled'
        WHERE t.affiliate_id = $1
        ORDER BY t.assigned_at, t.ticket_id
        """,
        affiliate_id,
    )


# --- statements and batches ----------------------------------------------------------------


async def add_statement_line(conn: Conn, line: StatementLine, wallet_id: str) -> None:
    await conn.execute(
        """
        INSERT INTO statement_lines (redemption_id, affiliate_id, campaign_id, ticket_id, wallet_id, amount_cents,
                                     redeemed_at, status)
        VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending')
        ON CONFLICT (redemption_id) DO NOTHING
        """,
        line.redemption_id,
        line.affiliate_id,
        line.campaign_id,
        line.ticket_id,
        wallet_id,
        line.amount_cents,
        line.redeemed_at,
    )


async def cancel_statement_line(conn: Conn, redemption_id: str, at: datetime) -> str | None:
    """Cancel a pending line; returns the status the line had (None when unknown)."""
    before = await conn.fetchval(
        "SELECT status FROM statement_lines WHERE redemption_id = $1 FOR UPDATE", redemption_id
    )
    if before == LineStatus.PENDING.value:
        await conn.execute(
            "UPDATE statement_lines SET status = 'cancelled', cancelled_at = $2 WHERE redemption_id = $1",
            redemption_id,
            at,
        )
    return before


def _line(row: asyncpg.Record) -> StatementLine:
    return StatementLine(
        redemption_id=row["redemption_id"],
        affiliate_id=row["affiliate_id"],
        campaign_id=row["campaign_id"],
        ticket_id=row["ticket_id"],
        amount_cents=row["amount_cents"],
        redeemed_at=row["redeemed_at"],
        status=LineStatus(row["status"]),
    )


async def statement(conn: Conn, affiliate_id: str, campaign_id: str | None) -> list[tuple[StatementLine, str | None]]:
    rows = await conn.fetch(
        """
        SELECT * FROM statement_lines
        WHERE affiliate_id = $1 AND ($2::text IS NULL OR campaign_id = $2)
        ORDER BY redeemed_at, redemption_id
        """,
        affiliate_id,
        campaign_id,
    )
    return [(_line(r), r["batch_id"]) for r in rows]


async def campaigns_with_pending_lines(conn: Conn) -> list[str]:
    rows = await conn.fetch(
        """
        SELECT DISTINCT s.campaign_id FROM statement_lines s JOIN campaigns c USING (campaign_id)
        WHERE s.status = 'pending' ORDER BY s.campaign_id
        """
    )
    return [r["campaign_id"] for r in rows]


async def pending_lines(conn: Conn, campaign_id: str) -> list[StatementLine]:
    """Locked, so that a cancellation arriving meanwhile waits for the batch to commit."""
    rows = await conn.fetch(
        "SELECT * FROM statement_lines WHERE campaign_id = $1 AND status = 'pending' FOR UPDATE", campaign_id
    )
    return [_line(r) for r in rows]


async def payees(conn: Conn, affiliate_ids: list[str]) -> dict[str, Payee]:
    rows = await conn.fetch(
        "SELECT affiliate_id, name, siret, iban, bic FROM affiliates WHERE affiliate_id = ANY($1)", affiliate_ids
    )
    return {r["affiliate_id"]: Payee(r["affiliate_id"], r["name"], r["siret"], r["iban"], r["bic"]) for r in rows}


async def insert_batch(conn: Conn, **batch: Any) -> None:
    await conn.execute(
        """
        INSERT INTO reimbursement_batches (batch_id, campaign_id, status, total_cents, count, execution_date, sepa_xml,
                                           transfers_csv, created_by, created_at)
        VALUES ($1, $2, 'created', $3, $4, $5, $6, $7, $8, $9)
        """,
        batch["batch_id"],
        batch["campaign_id"],
        batch["total_cents"],
        batch["count"],
        batch["execution_date"],
        batch["sepa_xml"],
        batch["transfers_csv"],
        batch["created_by"],
        batch["created_at"],
    )


async def insert_transfer(
    conn: Conn, batch_id: str, affiliate_id: str, name: str, iban: str, amount_cents: int, count: int, e2e: str
) -> None:
    await conn.execute(
        """
        INSERT INTO batch_transfers (batch_id, affiliate_id, name, iban, amount_cents, count, end_to_end_id)
        VALUES ($1, $2, $3, $4, $5, $6, $7)
        """,
        batch_id,
        affiliate_id,
        name,
        iban,
        amount_cents,
        count,
        e2e,
    )


async def batch_lines(conn: Conn, batch_id: str, redemption_ids: list[str]) -> None:
    await conn.execute(
        "UPDATE statement_lines SET status = 'batched', batch_id = $1 WHERE redemption_id = ANY($2)",
        batch_id,
        redemption_ids,
    )


async def batch(conn: Conn, batch_id: str, *, for_update: bool = False) -> asyncpg.Record | None:
    lock = " FOR UPDATE" if for_update else ""
    return await conn.fetchrow(f"SELECT * FROM reimbursement_batches WHERE batch_id = $1{lock}", batch_id)


async def batch_transfers(conn: Conn, batch_id: str) -> list[asyncpg.Record]:
    return await conn.fetch(
        """
        SELECT t.*, a.contact_email FROM batch_transfers t JOIN affiliates a USING (affiliate_id)
        WHERE t.batch_id = $1 ORDER BY t.name, t.affiliate_id
        """,
        batch_id,
    )


async def batch_redemption_ids(conn: Conn, batch_id: str) -> list[str]:
    rows = await conn.fetch(
        "SELECT redemption_id FROM statement_lines WHERE batch_id = $1 ORDER BY redemption_id", batch_id
    )
    return [r["redemption_id"] for r in rows]


async def mark_batch_paid(conn: Conn, batch_id: str, now: datetime) -> None:
    await conn.execute(
        "UPDATE reimbursement_batches SET status = 'paid', paid_at = $2 WHERE batch_id = $1", batch_id, now
    )
    await conn.execute("UPDATE statement_lines SET status = 'paid' WHERE batch_id = $1 AND status = 'batched'", batch_id)
