"""The wallet service's SQL, written out (asyncpg): repositories that return domain objects, and the
unit of work that builds them on one transaction's connection, so that a state change and its
outbox events commit together."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID

import asyncpg

from carnet_runtime import PostgresUnitOfWork

from .domain import Affiliate, CampaignTerms, Student, Ticket, TicketStatus, Wallet

_WALLET_COLUMNS = """
    wallet_id, application_id, campaign_id, campaign_label, school_id, owner_sub, guardian_email,
    student_last_name, student_first_name, student_level, allowance_cents, tickets_per_pass,
    ticket_min_cents, ticket_max_cents, valid_until
"""
_TICKET_COLUMNS = """
    ticket_id, position, status, amount_cents, code, affiliate_id, credited_at, redeemed_at, void_refusal_reason
"""


class WalletUnitOfWork(PostgresUnitOfWork):
    def bind(self, conn: asyncpg.Connection) -> None:
        self.wallets = WalletRepository(conn)
        self.affiliates = AffiliateCopies(conn)
        self.campaigns = CampaignCopies(conn)
        self.figures = FiguresQuery(conn)


class WalletRepository:
    def __init__(self, conn: asyncpg.Connection):
        self.conn = conn

    async def add(self, wallet: Wallet) -> bool:
        """Store a new wallet and its blank tickets; False when the application already has one."""
        terms = wallet.terms
        inserted = await self.conn.fetchval(
            f"""
            INSERT INTO wallets ({_WALLET_COLUMNS})
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
            ON CONFLICT (application_id) DO NOTHING
            RETURNING true
            """,
            wallet.wallet_id, wallet.application_id, terms.campaign_id, terms.label, wallet.school_id,
            wallet.owner_sub, wallet.guardian_email, wallet.student.last_name, wallet.student.first_name,
            wallet.student.level, terms.allowance_cents, terms.tickets_per_pass, terms.ticket_min_cents,
            terms.ticket_max_cents, terms.pass_valid_until,
        )
        if not inserted:
            return False
        await self.conn.executemany(
            "INSERT INTO tickets (ticket_id, wallet_id, position) VALUES ($1, $2, $3)",
            [(t.ticket_id, wallet.wallet_id, t.position) for t in wallet.tickets],
        )
        return True

    async def get(self, wallet_id: UUID, *, for_update: bool = False) -> Wallet | None:
        """The wallet with its tickets. `for_update` locks the wallet row until the transaction ends:
        every change of a wallet takes this lock first, so two credits of one wallet run one after the
        other and the second sees the first's amount."""
        lock = "FOR UPDATE" if for_update else ""
        row = await self.conn.fetchrow(f"SELECT {_WALLET_COLUMNS} FROM wallets WHERE wallet_id = $1 {lock}", wallet_id)
        if row is None:
            return None
        tickets = await self.conn.fetch(
            f"SELECT {_TICKET_COLUMNS} FROM tickets WHERE wallet_id = $1 ORDER BY position", wallet_id
        )
        return _wallet(row, tickets)

    async def id_of_application(self, application_id: str) -> UUID | None:
        return await self.conn.fetchval("SELECT wallet_id FROM wallets WHERE application_id = $1", application_id)

    async def save_ticket(self, ticket: Ticket) -> None:
        await self.conn.execute(
            """
            UPDATE tickets
            SET status = $2, amount_cents = $3, code = $4, affiliate_id = $5, credited_at = $6,
                redeemed_at = $7, void_refusal_reason = $8, updated_at = now()
            WHERE ticket_id = $1
            """,
            ticket.ticket_id, ticket.status.value, ticket.amount_cents, ticket.code, ticket.affiliate_id,
            ticket.credited_at, ticket.redeemed_at, ticket.void_refusal_reason,
        )


# -- the copies kept from other services' events -------------------------------------------------


class AffiliateCopies:
    """The wallet's copy of affiliates, from the affiliation service's events."""

    def __init__(self, conn: asyncpg.Connection):
        self.conn = conn

    async def of(self, affiliate_ids: Iterable[str | None]) -> dict[str, Affiliate]:
        rows = await self.conn.fetch(
            "SELECT affiliate_id, name, active FROM affiliates WHERE affiliate_id = ANY($1::text[])",
            list({a for a in affiliate_ids if a}),
        )
        return {r["affiliate_id"]: Affiliate(r["affiliate_id"], r["name"], r["active"]) for r in rows}

    async def activated(self, affiliate_id: str, name: str) -> None:
        await self.conn.execute(
            """
            INSERT INTO affiliates (affiliate_id, name, active) VALUES ($1, $2, true)
            ON CONFLICT (affiliate_id) DO UPDATE SET name = EXCLUDED.name, active = true, updated_at = now()
            """,
            affiliate_id, name,
        )

    async def suspended(self, affiliate_id: str) -> None:
        # A suspension of an affiliate never seen active still has to be remembered, nameless.
        await self.conn.execute(
            """
            INSERT INTO affiliates (affiliate_id, name, active) VALUES ($1, '', false)
            ON CONFLICT (affiliate_id) DO UPDATE SET active = false, updated_at = now()
            """,
            affiliate_id,
        )


@dataclass(frozen=True)
class PublishedTerms:
    """A campaign's latest published terms, which win over those a PassGranted carried."""

    label: str
    pass_valid_until: date
    ticket_min_cents: int
    ticket_max_cents: int


class CampaignCopies:
    def __init__(self, conn: asyncpg.Connection):
        self.conn = conn

    async def published(self, campaign_id: str, terms: PublishedTerms) -> None:
        """Keep the campaign and carry its label, validity end and ticket bounds to its wallets."""
        await self.conn.execute(
            """
            INSERT INTO campaigns (campaign_id, label, pass_valid_until, ticket_min_cents, ticket_max_cents)
            VALUES ($1, $2, $3, $4, $5)
            ON CONFLICT (campaign_id) DO UPDATE
            SET label = EXCLUDED.label, pass_valid_until = EXCLUDED.pass_valid_until,
                ticket_min_cents = EXCLUDED.ticket_min_cents, ticket_max_cents = EXCLUDED.ticket_max_cents,
                updated_at = now()
            """,
            campaign_id, terms.label, terms.pass_valid_until, terms.ticket_min_cents, terms.ticket_max_cents,
        )
        await self.conn.execute(
            """
            UPDATE wallets SET campaign_label = $2, valid_until = $3, ticket_min_cents = $4, ticket_max_cents = $5
            WHERE campaign_id = $1
            """,
            campaign_id, terms.label, terms.pass_valid_until, terms.ticket_min_cents, terms.ticket_max_cents,
        )

    async def terms(self, campaign_id: str) -> PublishedTerms | None:
        row = await self.conn.fetchrow(
            "SELECT label, pass_valid_until, ticket_min_cents, ticket_max_cents FROM campaigns WHERE campaign_id = $1",
            campaign_id,
        )
        return PublishedTerms(**dict(row)) if row else None


# -- figures -----------------------------------------------------------------------------------------

# A blank or credited ticket counts as expired from midnight, Paris time, after the last valid day.
_SHOWN_STATUS = """
    CASE WHEN t.status IN ('blank', 'credited')
              AND $2::timestamptz >= ((w.valid_until + 1)::timestamp AT TIME ZONE 'Europe/Paris')
         THEN 'expired' ELSE t.status END
"""


@dataclass(frozen=True)
class CampaignFigures:
    wallets: int
    allowance_cents: int
    wallets_with_redeemed_ticket: int
    credited_cents: int
    tickets_by_status: dict[str, int]
    amount_rows: list[tuple[int, str, int]]  # (amount, shown status, count)


class FiguresQuery:
    def __init__(self, conn: asyncpg.Connection):
        self.conn = conn

    async def of_campaign(self, campaign_id: str | None, now: datetime) -> CampaignFigures:
        return await _figures(self.conn, campaign_id, now)


async def _figures(conn: asyncpg.Connection, campaign_id: str | None, now: datetime) -> CampaignFigures:
    scope = "($1::text IS NULL OR w.campaign_id = $1)"
    totals = await conn.fetchrow(
        f"""
        SELECT count(*) AS wallets, coalesce(sum(w.allowance_cents), 0) AS allowance,
               count(*) FILTER (WHERE EXISTS (SELECT 1 FROM tickets t
                                              WHERE t.wallet_id = w.wallet_id AND t.status = 'redeemed')) AS used
        FROM wallets w WHERE {scope}
        """,
        campaign_id,
    )
    credited = await conn.fetchval(
        f"""
        SELECT coalesce(sum(t.amount_cents), 0) FROM tickets t JOIN wallets w USING (wallet_id)
        WHERE {scope} AND t.status IN ('credited', 'redeemed', 'void_pending')
        """,
        campaign_id,
    )
    by_status = await conn.fetch(
        f"""
        SELECT {_SHOWN_STATUS} AS shown, count(*) AS n
        FROM tickets t JOIN wallets w USING (wallet_id) WHERE {scope} GROUP BY shown
        """,
        campaign_id, now,
    )
    by_amount = await conn.fetch(
        f"""
        SELECT t.amount_cents, {_SHOWN_STATUS} AS shown, count(*) AS n
        FROM tickets t JOIN wallets w USING (wallet_id)
        WHERE {scope} AND t.amount_cents IS NOT NULL
        GROUP BY t.amount_cents, shown ORDER BY t.amount_cents
        """,
        campaign_id, now,
    )
    return CampaignFigures(
        wallets=totals["wallets"],
        allowance_cents=totals["allowance"],
        wallets_with_redeemed_ticket=totals["used"],
        credited_cents=credited,
        tickets_by_status={r["shown"]: r["n"] for r in by_status},
        amount_rows=[(r["amount_cents"], r["shown"], r["n"]) for r in by_amount],
    )


def _wallet(row: asyncpg.Record, tickets: list[asyncpg.Record]) -> Wallet:
    return Wallet(
        wallet_id=row["wallet_id"],
        application_id=row["application_id"],
        school_id=row["school_id"],
        owner_sub=row["owner_sub"],
        guardian_email=row["guardian_email"],
        student=Student(row["student_last_name"], row["student_first_name"], row["student_level"]),
        terms=CampaignTerms(
            campaign_id=row["campaign_id"],
            label=row["campaign_label"],
            allowance_cents=row["allowance_cents"],
            tickets_per_pass=row["tickets_per_pass"],
            ticket_min_cents=row["ticket_min_cents"],
            ticket_max_cents=row["ticket_max_cents"],
            pass_valid_until=row["valid_until"],
        ),
        tickets=[
            Ticket(
                ticket_id=t["ticket_id"], position=t["position"], status=TicketStatus(t["status"]),
                amount_cents=t["amount_cents"], code=t["code"], affiliate_id=t["affiliate_id"],
                credited_at=t["credited_at"], redeemed_at=t["redeemed_at"],
                void_refusal_reason=t["void_refusal_reason"],
            )
            for t in tickets
        ],
    )
