"""Repositories of the unit of work (cancel, and what the other services' events change), written out."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from carnet_runtime import PostgresUnitOfWork
from carnet_runtime.repository import Repository

from .. import domain as d
from . import rows


# The ticket is locked as it is now (a redemption in flight finishes first); it is replaced only if
# redeemable, and its old code retired in the same statement.
_REPLACE_CODE = f"""
WITH found AS (
    SELECT {rows.TICKET_COLUMNS}, t.code_hash FROM tickets t WHERE t.ticket_id = $1 FOR UPDATE
), replaced AS (
    UPDATE tickets t SET code_hash = $2, code_suffix = $3, updated_at = $4
    FROM found f
    WHERE t.ticket_id = f.ticket_id AND f.status = 'redeemable'
    RETURNING f.code_hash AS old_hash
), retired AS (
    INSERT INTO retired_codes (code_hash, ticket_id, reason, retired_at)
    SELECT old_hash, $1, 'replaced', $4 FROM replaced
)
SELECT f.*, EXISTS (SELECT 1 FROM replaced) AS replaced FROM found f
"""


class TicketRepository(Repository):
    async def get_for_update(self, ticket_id: str) -> d.Ticket | None:
        row = await self.conn.fetchrow(
            f"SELECT {rows.TICKET_COLUMNS} FROM tickets t WHERE t.ticket_id = $1 FOR UPDATE", ticket_id
        )
        return rows.ticket(row) if row else None

    async def save_credited(self, ticket: d.Ticket, code_hash: str, code_suffix: str) -> None:
        """A credited ticket, redeemable under its code's hash (again, if the wallet credits it anew)."""
        await self.conn.execute(
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

    async def is_retired(self, code_hash: str) -> bool:
        return bool(await self.conn.fetchval("SELECT true FROM retired_codes WHERE code_hash = $1", code_hash))

    async def retire_code(self, ticket_id: str, reason: d.Retired, now: datetime) -> None:
        """The ticket's current code is refused for ever (its ticket may be credited again, with a new code)."""
        await self.conn.execute(
            """
            INSERT INTO retired_codes (code_hash, ticket_id, reason, retired_at)
            SELECT code_hash, ticket_id, $2, $3 FROM tickets WHERE ticket_id = $1
            ON CONFLICT (code_hash) DO NOTHING
            """,
            ticket_id, reason.value, now,
        )

    async def replace_code(self, ticket_id: str, code_hash: str, code_suffix: str,
                           now: datetime) -> tuple[bool, d.Ticket | None]:
        """ONE conditional statement decides a replacement, under the guard a redemption takes: if the
        ticket is redeemable, its code becomes the new one and the old one is retired as replaced. A
        redemption in flight either committed first (the ticket is found redeemed: not replaced) or
        waits for this transaction and then finds the old code retired. Whether it was replaced, and
        the ticket as the decision found it."""
        row = await self.conn.fetchrow(_REPLACE_CODE, ticket_id, code_hash, code_suffix, now)
        if row is None:
            return False, None
        return row["replaced"], rows.ticket(row)

    async def save(self, ticket: d.Ticket) -> None:
        """The ticket's state: status, reservation and who spent it."""
        await self.conn.execute(
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


class RedemptionRepository(Repository):
    async def get_for_update(self, redemption_id: uuid.UUID) -> tuple[d.Redemption, d.Ticket, d.Campaign | None] | None:
        """A redemption with its ticket (both rows locked) and its campaign, if known here."""
        row = await self.conn.fetchrow(
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
        redemption = rows.redemption(row)
        ticket = rows.ticket(row, **rows.JOINED_TICKET)
        grace = row["redemption_cancel_grace_minutes"]
        campaign = d.Campaign(redemption.campaign_id, grace) if grace is not None else None
        return redemption, ticket, campaign

    async def save_cancelled(self, redemption: d.Redemption) -> None:
        """Cancelled: when, by whom (the affiliate's id, or the admin's account), why, and what the ticket became."""
        await self.conn.execute(
            """
            UPDATE redemptions SET status = $2, cancelled_at = $3, cancelled_by_role = $4, cancelled_by = $5,
                                   cancel_reason = $6, cancel_then = $7
            WHERE redemption_id = $1
            """,
            uuid.UUID(redemption.redemption_id),
            redemption.status.value,
            redemption.cancelled_at,
            redemption.cancelled_by_role.value if redemption.cancelled_by_role else None,
            redemption.cancelled_by,
            redemption.cancel_reason,
            redemption.cancel_then.value if redemption.cancel_then else None,
        )

    async def forget_correctors(self, campaign_id: str) -> None:
        """The campaign's purge: the admin's account and free-text reason of each late correction go."""
        await self.conn.execute(
            """
            UPDATE redemptions SET cancelled_by = NULL, cancel_reason = NULL
            WHERE campaign_id = $1 AND cancelled_by_role = 'admin' AND (cancelled_by IS NOT NULL OR cancel_reason IS NOT NULL)
            """,
            campaign_id,
        )

    async def lock_in_batch(self, batch_id: str, redemption_ids: list[str]) -> int:
        """Lock the named redemptions not yet in a batch; how many were."""
        ids = []
        for value in redemption_ids:
            try:
                ids.append(uuid.UUID(value))
            except ValueError:
                continue
        result = await self.conn.execute(
            "UPDATE redemptions SET batch_id = $1 WHERE redemption_id = ANY($2::uuid[]) AND batch_id IS NULL",
            batch_id,
            ids,
        )
        return int(result.split()[-1])


class AffiliateRepository(Repository):
    async def set_active(self, affiliate_id: str, active: bool) -> None:
        await self.conn.execute(
            """
            INSERT INTO affiliates (affiliate_id, active) VALUES ($1, $2)
            ON CONFLICT (affiliate_id) DO UPDATE SET active = EXCLUDED.active, updated_at = now()
            """,
            affiliate_id,
            active,
        )


class CampaignRepository(Repository):
    async def save(self, campaign: d.Campaign, pass_valid_until: date) -> None:
        """The campaign's grace period and validity end; a validity that moves (extended by a month,
        say) moves its tickets' validity with it."""
        await self.conn.execute(
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
        await self.conn.execute(
            """
            UPDATE tickets SET valid_until = $2, valid_through = $3, updated_at = now()
            WHERE campaign_id = $1 AND valid_until <> $2
            """,
            campaign.campaign_id,
            pass_valid_until,
            d.validity_end(pass_valid_until),
        )


class RedemptionUnitOfWork(PostgresUnitOfWork):
    """One transaction over tickets, redemptions, affiliates and campaigns; events published in it
    are written to the outbox at commit."""

    tickets: TicketRepository
    redemptions: RedemptionRepository
    affiliates: AffiliateRepository
    campaigns: CampaignRepository

