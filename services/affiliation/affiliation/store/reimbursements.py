"""Tickets assigned to organisations, statement lines, reimbursement batches."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from ..domain.reimbursement import (
    AssignedTicket,
    Batch,
    BatchFiles,
    BatchStatus,
    LineStatus,
    PaidTransfer,
    Payee,
    StatementLine,
)


class AssignedTicketRepository:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def save(self, ticket: AssignedTicket) -> None:
        """An assignment, or a newer one of the same ticket (a validity end already known is kept)."""
        await self.conn.execute(
            """
            INSERT INTO assigned_tickets (ticket_id, affiliate_id, wallet_id, campaign_id, code_suffix, amount_cents,
                                          valid_until, assigned_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
            ON CONFLICT (ticket_id) DO UPDATE
            SET affiliate_id = excluded.affiliate_id, amount_cents = excluded.amount_cents,
                valid_until = coalesce(excluded.valid_until, assigned_tickets.valid_until),
                assigned_at = excluded.assigned_at
            """,
            ticket.ticket_id, ticket.affiliate_id, ticket.wallet_id, ticket.campaign_id, ticket.code_suffix,
            ticket.amount_cents, ticket.valid_until, ticket.assigned_at,
        )

    async def remove(self, ticket_id: str) -> None:
        await self.conn.execute("DELETE FROM assigned_tickets WHERE ticket_id = $1", ticket_id)

    async def of(self, affiliate_id: str) -> list[AssignedTicket]:
        """Each assigned ticket with when it was redeemed (by a redemption not cancelled)."""
        rows = await self.conn.fetch(
            """
            SELECT t.*, s.redeemed_at
            FROM assigned_tickets t
            LEFT JOIN statement_lines s ON s.ticket_id = t.ticket_id AND s.status <> 'cancelled'
            WHERE t.affiliate_id = $1
            ORDER BY t.assigned_at, t.ticket_id
            """,
            affiliate_id,
        )
        return [
            AssignedTicket(r["ticket_id"], r["affiliate_id"], r["wallet_id"], r["campaign_id"], r["code_suffix"],
                           r["amount_cents"], r["valid_until"], r["assigned_at"], r["redeemed_at"])
            for r in rows
        ]


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


class StatementRepository:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def add(self, line: StatementLine, wallet_id: str) -> None:
        await self.conn.execute(
            """
            INSERT INTO statement_lines (redemption_id, affiliate_id, campaign_id, ticket_id, wallet_id, amount_cents,
                                         redeemed_at, status)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
            ON CONFLICT (redemption_id) DO NOTHING
            """,
            line.redemption_id, line.affiliate_id, line.campaign_id, line.ticket_id, wallet_id, line.amount_cents,
            line.redeemed_at, line.status.value,
        )

    async def status_for_update(self, redemption_id: str) -> LineStatus | None:
        status = await self.conn.fetchval(
            "SELECT status FROM statement_lines WHERE redemption_id = $1 FOR UPDATE", redemption_id
        )
        return LineStatus(status) if status else None

    async def cancel(self, redemption_id: str, at: datetime) -> None:
        await self.conn.execute(
            "UPDATE statement_lines SET status = 'cancelled', cancelled_at = $2 WHERE redemption_id = $1",
            redemption_id, at,
        )

    async def of(self, affiliate_id: str, campaign_id: str | None) -> list[tuple[StatementLine, str | None]]:
        """The organisation's lines, each with the batch that holds it (if any)."""
        rows = await self.conn.fetch(
            """
            SELECT * FROM statement_lines
            WHERE affiliate_id = $1 AND ($2::text IS NULL OR campaign_id = $2)
            ORDER BY redeemed_at, redemption_id
            """,
            affiliate_id, campaign_id,
        )
        return [(_line(r), r["batch_id"]) for r in rows]

    async def campaigns_waiting(self) -> list[str]:
        rows = await self.conn.fetch(
            """
            SELECT DISTINCT s.campaign_id FROM statement_lines s JOIN campaigns c USING (campaign_id)
            WHERE s.status = 'pending' ORDER BY s.campaign_id
            """
        )
        return [r["campaign_id"] for r in rows]

    async def pending(self, campaign_id: str) -> list[StatementLine]:
        """Locked, so that a cancellation arriving meanwhile waits for the batch to commit."""
        rows = await self.conn.fetch(
            "SELECT * FROM statement_lines WHERE campaign_id = $1 AND status = 'pending' FOR UPDATE", campaign_id
        )
        return [_line(r) for r in rows]

    async def payees(self, affiliate_ids: list[str]) -> dict[str, Payee]:
        rows = await self.conn.fetch(
            "SELECT affiliate_id, name, siret, iban, bic FROM affiliates WHERE affiliate_id = ANY($1)", affiliate_ids
        )
        return {r["affiliate_id"]: Payee(r["affiliate_id"], r["name"], r["siret"], r["iban"], r["bic"]) for r in rows}


class BatchRepository:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def add(self, batch: Batch, files: BatchFiles, created_by: str, redemption_ids: list[str]) -> None:
        """The batch, its transfers, and its lines taken out of the pending ones."""
        await self.conn.execute(
            """
            INSERT INTO reimbursement_batches (batch_id, campaign_id, status, total_cents, count, execution_date,
                                               sepa_xml, transfers_csv, created_by, created_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
            """,
            batch.batch_id, batch.campaign_id, batch.status.value, batch.total_cents, batch.count,
            batch.execution_date, files.sepa_xml, files.transfers_csv, created_by, batch.created_at,
        )
        await self.conn.executemany(
            """
            INSERT INTO batch_transfers (batch_id, affiliate_id, name, iban, amount_cents, count, end_to_end_id)
            VALUES ($1, $2, $3, $4, $5, $6, $7)
            """,
            [(batch.batch_id, t.affiliate_id, t.name, t.iban, t.amount_cents, t.count, t.end_to_end_id)
             for t in batch.transfers],
        )
        await self.conn.execute(
            "UPDATE statement_lines SET status = 'batched', batch_id = $1 WHERE redemption_id = ANY($2)",
            batch.batch_id, redemption_ids,
        )

    async def get(self, batch_id: str, *, for_update: bool = False) -> Batch | None:
        lock = " FOR UPDATE" if for_update else ""
        row = await self.conn.fetchrow(
            f"""
            SELECT batch_id, campaign_id, status, total_cents, count, execution_date, created_at, paid_at
            FROM reimbursement_batches WHERE batch_id = $1{lock}
            """,
            batch_id,
        )
        if row is None:
            return None
        transfers = await self.conn.fetch(
            """
            SELECT t.*, a.contact_email FROM batch_transfers t JOIN affiliates a USING (affiliate_id)
            WHERE t.batch_id = $1 ORDER BY t.name, t.affiliate_id
            """,
            batch_id,
        )
        return Batch(
            batch_id=row["batch_id"],
            campaign_id=row["campaign_id"],
            status=BatchStatus(row["status"]),
            total_cents=row["total_cents"],
            count=row["count"],
            execution_date=row["execution_date"],
            created_at=row["created_at"],
            paid_at=row["paid_at"],
            transfers=tuple(
                PaidTransfer(t["affiliate_id"], t["name"], t["iban"], t["amount_cents"], t["count"],
                             t["end_to_end_id"], t["contact_email"])
                for t in transfers
            ),
        )

    async def files(self, batch_id: str) -> BatchFiles | None:
        row = await self.conn.fetchrow(
            "SELECT sepa_xml, transfers_csv FROM reimbursement_batches WHERE batch_id = $1", batch_id
        )
        return BatchFiles(bytes(row["sepa_xml"]), row["transfers_csv"]) if row else None

    async def redemption_ids(self, batch_id: str) -> list[str]:
        rows = await self.conn.fetch(
            "SELECT redemption_id FROM statement_lines WHERE batch_id = $1 ORDER BY redemption_id", batch_id
        )
        return [r["redemption_id"] for r in rows]

    async def mark_paid(self, batch_id: str, now: datetime) -> None:
        await self.conn.execute(
            "UPDATE reimbursement_batches SET status = 'paid', paid_at = $2 WHERE batch_id = $1", batch_id, now
        )
        await self.conn.execute(
            "UPDATE statement_lines SET status = 'paid' WHERE batch_id = $1 AND status = 'batched'", batch_id
        )
