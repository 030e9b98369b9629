"""Tickets assigned to organisations, statement lines, reimbursement batches."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from carnet_runtime.repository import Repository, from_row

from ..domain.figures import Amount
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


class AssignedTicketRepository(Repository):
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

    async def forget_campaign(self, campaign_id: str) -> int:
        """The season is over: which family chose which organisation goes."""
        status = await self.conn.execute("DELETE FROM assigned_tickets WHERE campaign_id = $1", campaign_id)
        return int(status.split()[-1])

    async def forget_wallets(self, wallet_ids: list[str]) -> int:
        status = await self.conn.execute(
            "UPDATE assigned_tickets SET wallet_id = NULL WHERE wallet_id = ANY($1::text[])", wallet_ids
        )
        return int(status.split()[-1])

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
        return [from_row(AssignedTicket, r) for r in rows]


def _line(row: asyncpg.Record) -> StatementLine:
    return from_row(StatementLine, row, status=LineStatus(row["status"]))


class StatementRepository(Repository):
    async def add(self, line: StatementLine) -> None:
        await self.conn.execute(
            """
            INSERT INTO statement_lines (redemption_id, affiliate_id, campaign_id, ticket_id, amount_cents,
                                         redeemed_at, status)
            VALUES ($1, $2, $3, $4, $5, $6, $7)
            ON CONFLICT (redemption_id) DO NOTHING
            """,
            line.redemption_id, line.affiliate_id, line.campaign_id, line.ticket_id, line.amount_cents,
            line.redeemed_at, line.status.value,
        )

    async def forget_wallets(self, wallet_ids: list[str] | None = None, campaign_id: str | None = None) -> int:
        """Lines written by a version that kept the wallet lose it (of those wallets, or of that campaign)."""
        status = await self.conn.execute(
            """
            UPDATE statement_lines SET wallet_id = NULL
            WHERE wallet_id IS NOT NULL AND (wallet_id = ANY($1::text[]) OR campaign_id = $2)
            """,
            wallet_ids or [], campaign_id,
        )
        return int(status.split()[-1])

    async def amounts(self, campaign_id: str | None) -> dict[str, dict[LineStatus, Amount]]:
        """Per organisation, per status: how many lines and how many cents (of a campaign, or all)."""
        rows = await self.conn.fetch(
            """
            SELECT affiliate_id, status, count(*) AS n, sum(amount_cents) AS cents FROM statement_lines
            WHERE ($1::text IS NULL OR campaign_id = $1) GROUP BY affiliate_id, status
            """,
            campaign_id,
        )
        found: dict[str, dict[LineStatus, Amount]] = {}
        for r in rows:
            found.setdefault(r["affiliate_id"], {})[LineStatus(r["status"])] = Amount(r["n"], int(r["cents"]))
        return found

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


class BatchRepository(Repository):
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
        row = await self.fetch_one(
            "SELECT batch_id, campaign_id, status, total_cents, count, execution_date, created_at, paid_at"
            " FROM reimbursement_batches WHERE batch_id = $1",
            batch_id, for_update=for_update,
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
        return from_row(Batch, row, status=BatchStatus(row["status"]),
                        transfers=tuple(from_row(PaidTransfer, t) for t in transfers))

    async def files(self, batch_id: str) -> BatchFiles | None:
        row = await self.conn.fetchrow(
            "SELECT sepa_xml, transfers_csv FROM reimbursement_batches WHERE batch_id = $1", batch_id
        )
        return BatchFiles(bytes(row["sepa_xml"]), row["transfers_csv"]) if row else None

    async def count_by_status(self, campaign_id: str | None) -> dict[BatchStatus, int]:
        rows = await self.conn.fetch(
            """
            SELECT status, count(*) AS n FROM reimbursement_batches
            WHERE ($1::text IS NULL OR campaign_id = $1) GROUP BY status
            """,
            campaign_id,
        )
        return {BatchStatus(r["status"]): r["n"] for r in rows}

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
