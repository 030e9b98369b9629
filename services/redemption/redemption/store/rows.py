"""From rows to domain objects: what every query of the store returns to the application."""

from __future__ import annotations

import asyncpg

from carnet_runtime.repository import from_row

from .. import domain as d

TICKET_COLUMNS = """t.ticket_id, t.wallet_id, t.campaign_id, t.amount_cents, t.valid_until, t.reserved_for,
    t.status, t.redemption_id, t.redeemed_at, t.redeemed_by, t.code_suffix"""


def ticket(row: asyncpg.Record, status: str = "status", redemption_id: str = "redemption_id",
           redeemed_at: str = "redeemed_at") -> d.Ticket:
    """A ticket read with TICKET_COLUMNS, or from a join with redemptions where the ticket's own
    `status`, `redemption_id` and `redeemed_at` are renamed (`**JOINED_TICKET`)."""
    spent_by = row[redemption_id]
    return d.Ticket(
        ticket_id=row["ticket_id"],
        wallet_id=row["wallet_id"],
        campaign_id=row["campaign_id"],
        amount_cents=row["amount_cents"],
        valid_until=row["valid_until"],
        reserved_for=row["reserved_for"],
        status=d.TicketStatus(row[status]),
        redemption_id=str(spent_by) if spent_by else None,
        redeemed_at=row[redeemed_at],
        redeemed_by=row["redeemed_by"],
    )


# The ticket's own columns as a join with redemptions (r.*) reads them.
JOINED_TICKET = {"status": "ticket_status", "redemption_id": "ticket_redemption_id", "redeemed_at": "ticket_redeemed_at"}


def redemption(row: asyncpg.Record) -> d.Redemption:
    """A redemption read with `r.*`."""
    return from_row(
        d.Redemption, row,
        redemption_id=str(row["redemption_id"]),
        status=d.RedemptionStatus(row["status"]),
        cancelled_by_role=d.CancelledBy(row["cancelled_by_role"]) if row["cancelled_by_role"] else None,
        cancel_then=d.Then(row["cancel_then"]) if row["cancel_then"] else None,
    )
