"""This service's copy of each campaign, and who was reminded of their login for which campaign."""

from __future__ import annotations

from datetime import date, datetime

import asyncpg

from carnet_runtime.repository import Repository, from_row

from ..domain.reimbursement import Campaign


class CampaignRepository(Repository):
    async def save(self, campaign: Campaign, now: datetime) -> None:
        await self.conn.execute(
            """
            INSERT INTO campaigns (campaign_id, label, enrolment_opens, pass_valid_until, reimbursement_deadline,
                                   redemption_cancel_grace_minutes, updated_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7)
            ON CONFLICT (campaign_id) DO UPDATE
            SET label = excluded.label, enrolment_opens = excluded.enrolment_opens,
                pass_valid_until = excluded.pass_valid_until, reimbursement_deadline = excluded.reimbursement_deadline,
                redemption_cancel_grace_minutes = excluded.redemption_cancel_grace_minutes,
                updated_at = excluded.updated_at
            """,
            campaign.campaign_id, campaign.label, campaign.enrolment_opens, campaign.pass_valid_until,
            campaign.reimbursement_deadline, campaign.redemption_cancel_grace_minutes, now,
        )

    async def get(self, campaign_id: str, *, for_update: bool = False) -> Campaign | None:
        row = await self.fetch_one("SELECT * FROM campaigns WHERE campaign_id = $1", campaign_id, for_update=for_update)
        return from_row(Campaign, row) if row else None

    async def due_for_reminders(self, today: date) -> list[Campaign]:
        """Campaigns open today whose organisations were not reminded yet; one replica takes each."""
        rows = await self.conn.fetch(
            """
            SELECT * FROM campaigns
            WHERE logins_reminded_at IS NULL AND enrolment_opens <= $1 AND pass_valid_until >= $1
            ORDER BY enrolment_opens
            FOR UPDATE SKIP LOCKED
            """,
            today,
        )
        return [from_row(Campaign, r) for r in rows]

    async def mark_reminded(self, campaign_id: str, now: datetime) -> None:
        await self.conn.execute("UPDATE campaigns SET logins_reminded_at = $2 WHERE campaign_id = $1", campaign_id, now)

    async def record_reminder(self, campaign_id: str, affiliate_id: str, now: datetime) -> bool:
        """True the first time this organisation is reminded for this campaign."""
        return bool(
            await self.conn.fetchval(
                """
                INSERT INTO login_reminders (campaign_id, affiliate_id, reminded_at) VALUES ($1, $2, $3)
                ON CONFLICT DO NOTHING RETURNING true
                """,
                campaign_id, affiliate_id, now,
            )
        )
