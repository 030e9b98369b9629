"""Wallets and their tickets in SQL. Codes are sealed on the way in and opened on the way out
(wallet/codes.py): the domain works with clear codes, the database never sees one."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from uuid import UUID

import asyncpg

from carnet_runtime.repository import from_row

from ..codes import CodeVault, pending_place, ticket_place
from ..domain import CampaignTerms, Student, Ticket, TicketStatus, Wallet

_WALLET_COLUMNS = """
    wallet_id, application_id, campaign_id, campaign_label, school_id, owner_sub, guardian_email,
    student_last_name, student_first_name, student_level, allowance_cents, tickets_per_pass,
    ticket_min_cents, ticket_max_cents, valid_until, paper, anonymised_at, expiry_reminded_at
"""
_TICKET_COLUMNS = """
    wallet_id, ticket_id, position, status, amount_cents, code_key_id, code_ciphertext, pending_code_key_id,
    pending_code_ciphertext, affiliate_id, credited_at, redeemed_at, redeemed_by, void_refusal_reason,
    replace_refusal_reason
"""


class WalletRepository:
    def __init__(self, conn: asyncpg.Connection, vault: CodeVault):
        self.conn = conn
        self.vault = vault

    async def add_all(self, wallets: Sequence[Wallet]) -> set[UUID]:
        """Store new wallets and their blank tickets in one statement, whatever their number; the ids
        of those stored (a wallet whose application already has one is not)."""
        rows = await self.conn.fetch(
            f"""
            WITH wallet AS (
                INSERT INTO wallets ({_WALLET_COLUMNS})
                SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                                     $7::text[], $8::text[], $9::text[], $10::text[], $11::int[], $12::int[],
                                     $13::int[], $14::int[], $15::date[], $16::bool[], $17::timestamptz[],
                                     $18::timestamptz[])
                ON CONFLICT (application_id) DO NOTHING
                RETURNING wallet_id
            ), tickets AS (
                INSERT INTO tickets (ticket_id, wallet_id, position)
                SELECT t.ticket_id, t.wallet_id, t.position
                FROM unnest($19::uuid[], $20::uuid[], $21::smallint[]) AS t(ticket_id, wallet_id, position)
                JOIN wallet USING (wallet_id)
            )
            SELECT wallet_id FROM wallet
            """,
            *_columns([
                (w.wallet_id, w.application_id, w.terms.campaign_id, w.terms.label, w.school_id, w.owner_sub,
                 w.guardian_email, w.student.last_name, w.student.first_name, w.student.level,
                 w.terms.allowance_cents, w.terms.tickets_per_pass, w.terms.ticket_min_cents,
                 w.terms.ticket_max_cents, w.terms.pass_valid_until, w.paper, w.anonymised_at, w.expiry_reminded_at)
                for w in wallets], width=18),
            *_columns([(t.ticket_id, w.wallet_id, t.position) for w in wallets for t in w.tickets], width=3),
        )
        return {r["wallet_id"] for r in rows}

    async def get(self, wallet_id: UUID, *, for_update: bool = False) -> Wallet | None:
        """The wallet with its tickets. `for_update` locks the wallet row until the transaction ends:
        every change of a wallet takes this lock first, so two credits of one wallet run one after the
        other and the second sees the first's amount."""
        lock = "FOR UPDATE" if for_update else ""
        found = await self._load(f"SELECT {_WALLET_COLUMNS} FROM wallets WHERE wallet_id = $1 {lock}", wallet_id)
        return found[0] if found else None

    async def get_many(self, wallet_ids: Sequence[UUID]) -> list[Wallet]:
        return await self._load(f"SELECT {_WALLET_COLUMNS} FROM wallets WHERE wallet_id = ANY($1::uuid[])",
                                list(wallet_ids))

    async def of_owner(self, owner_sub: str) -> list[Wallet]:
        return await self._load(
            f"SELECT {_WALLET_COLUMNS} FROM wallets WHERE owner_sub = $1 ORDER BY created_at", owner_sub)

    async def of_guardian_email(self, email: str) -> list[Wallet]:
        return await self._load(
            f"SELECT {_WALLET_COLUMNS} FROM wallets WHERE lower(guardian_email) = lower($1) AND guardian_email <> '' "
            "ORDER BY created_at", email)

    async def save_ticket(self, ticket: Ticket) -> None:
        code = self.vault.seal_optional(ticket.code, ticket_place(ticket.ticket_id))
        pending = self.vault.seal_optional(ticket.pending_code, pending_place(ticket.ticket_id))
        await self.conn.execute(
            """
            UPDATE tickets
            SET status = $2, amount_cents = $3, code_hash = $4, code_key_id = $5, code_ciphertext = $6,
                pending_code_hash = $7, pending_code_key_id = $8, pending_code_ciphertext = $9,
                affiliate_id = $10, credited_at = $11, redeemed_at = $12, redeemed_by = $13,
                void_refusal_reason = $14, replace_refusal_reason = $15, updated_at = now()
            WHERE ticket_id = $1
            """,
            ticket.ticket_id, ticket.status.value, ticket.amount_cents,
            self.vault.hash(ticket.code) if ticket.code else None,
            code.key_id if code else None, code.ciphertext if code else None,
            self.vault.hash(ticket.pending_code) if ticket.pending_code else None,
            pending.key_id if pending else None, pending.ciphertext if pending else None,
            ticket.affiliate_id, ticket.credited_at, ticket.redeemed_at, ticket.redeemed_by,
            ticket.void_refusal_reason, ticket.replace_refusal_reason,
        )

    # -- the expiry reminder --------------------------------------------------------------------

    async def due_for_reminder(self, first_day: date, last_day: date, limit: int) -> list[Wallet]:
        """Wallets not yet reminded whose pass ends between the two days and on which money is left
        (the allowance is not all redeemed), locked so that two replicas never remind one twice."""
        return await self._load(
            f"""
            SELECT {_WALLET_COLUMNS} FROM wallets w
            WHERE w.expiry_reminded_at IS NULL AND w.anonymised_at IS NULL
              AND w.valid_until BETWEEN $1 AND $2
              AND w.allowance_cents > (SELECT coalesce(sum(t.amount_cents), 0) FROM tickets t
                                       WHERE t.wallet_id = w.wallet_id AND t.status = 'redeemed')
            ORDER BY w.valid_until, w.wallet_id
            LIMIT $3
            FOR UPDATE OF w SKIP LOCKED
            """,
            first_day, last_day, limit,
        )

    async def mark_reminded(self, wallet_id: UUID, at: datetime) -> None:
        await self.conn.execute("UPDATE wallets SET expiry_reminded_at = $2 WHERE wallet_id = $1", wallet_id, at)

    # -- erasing people, keeping figures ------------------------------------------------------------

    async def ids_to_erase(self, wallet_ids: Sequence[UUID], application_ids: Sequence[str],
                           owner_subs: Sequence[str]) -> dict[UUID, list[UUID]]:
        """The wallets named by id, application or family account, each with its ticket ids."""
        rows = await self.conn.fetch(
            """
            SELECT w.wallet_id, array_agg(t.ticket_id) AS tickets
            FROM wallets w JOIN tickets t USING (wallet_id)
            WHERE w.wallet_id = ANY($1::uuid[]) OR w.application_id = ANY($2::text[]) OR w.owner_sub = ANY($3::text[])
            GROUP BY w.wallet_id
            """,
            list(wallet_ids), list(application_ids), list(owner_subs),
        )
        return {r["wallet_id"]: list(r["tickets"]) for r in rows}

    async def ids_of_campaign(self, campaign_id: str) -> list[UUID]:
        return [r["wallet_id"] for r in await self.conn.fetch(
            "SELECT wallet_id FROM wallets WHERE campaign_id = $1", campaign_id)]

    async def anonymise(self, wallet_ids: Sequence[UUID], at: datetime) -> int:
        """Names, e-mail, family account and every code (pending ones included) go; amounts, statuses,
        dates, the school and the campaign terms stay, so the figures come out the same."""
        ids = list(wallet_ids)
        done = await self.conn.execute(
            """
            UPDATE wallets SET student_last_name = '', student_first_name = '', guardian_email = '',
                               owner_sub = NULL, anonymised_at = coalesce(anonymised_at, $2)
            WHERE wallet_id = ANY($1::uuid[])
            """,
            ids, at,
        )
        await self.conn.execute(
            """
            UPDATE tickets SET code_hash = NULL, code_key_id = NULL, code_ciphertext = NULL,
                               pending_code_hash = NULL, pending_code_key_id = NULL, pending_code_ciphertext = NULL
            WHERE wallet_id = ANY($1::uuid[])
            """,
            ids,
        )
        return int(done.split()[-1])

    # -- loading ---------------------------------------------------------------------------------------

    async def _load(self, wallets_query: str, *args) -> list[Wallet]:
        rows = await self.conn.fetch(wallets_query, *args)
        if not rows:
            return []
        tickets = await self.conn.fetch(
            f"SELECT {_TICKET_COLUMNS} FROM tickets WHERE wallet_id = ANY($1::uuid[]) ORDER BY wallet_id, position",
            [r["wallet_id"] for r in rows],
        )
        by_wallet: dict[UUID, list[Ticket]] = {}
        for t in tickets:
            by_wallet.setdefault(t["wallet_id"], []).append(self._ticket(t))
        return [_wallet(r, by_wallet.get(r["wallet_id"], [])) for r in rows]

    def _ticket(self, t: asyncpg.Record) -> Ticket:
        ticket_id = t["ticket_id"]
        return Ticket(
            ticket_id=ticket_id, position=t["position"], status=TicketStatus(t["status"]),
            amount_cents=t["amount_cents"],
            code=self.vault.open_optional(t["code_key_id"], t["code_ciphertext"], ticket_place(ticket_id)),
            pending_code=self.vault.open_optional(t["pending_code_key_id"], t["pending_code_ciphertext"],
                                                  pending_place(ticket_id)),
            affiliate_id=t["affiliate_id"], credited_at=t["credited_at"], redeemed_at=t["redeemed_at"],
            redeemed_by=t["redeemed_by"], void_refusal_reason=t["void_refusal_reason"],
            replace_refusal_reason=t["replace_refusal_reason"],
        )


def _columns(rows: list[tuple], *, width: int) -> list[list]:
    """Rows as the columns `unnest` takes, one array a column."""
    return [list(column) for column in zip(*rows, strict=True)] if rows else [[] for _ in range(width)]


def _wallet(row: asyncpg.Record, tickets: list[Ticket]) -> Wallet:
    return from_row(
        Wallet, row,
        student=Student(row["student_last_name"], row["student_first_name"], row["student_level"]),
        terms=from_row(CampaignTerms, row, label=row["campaign_label"], pass_valid_until=row["valid_until"]),
        tickets=tickets,
    )
