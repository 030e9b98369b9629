"""Campaigns and their purges."""

from __future__ import annotations

import asyncpg

from carnet_runtime.repository import Repository

from ..domain import Campaign, CampaignCalendar, CampaignPurge

_CAMPAIGN_COLUMNS = """
    campaign_id, label, enrolment_opens, enrolment_closes, pass_valid_until, reimbursement_deadline,
    allowance_cents, tickets_per_pass, ticket_min_cents, ticket_max_cents,
    eligible_postcode_prefixes, eligible_levels, redemption_cancel_grace_minutes, data_retention_days
"""


def _campaign(row: asyncpg.Record) -> Campaign:
    return Campaign(
        campaign_id=row["campaign_id"],
        label=row["label"],
        calendar=CampaignCalendar(
            row["enrolment_opens"], row["enrolment_closes"], row["pass_valid_until"], row["reimbursement_deadline"]
        ),
        allowance_cents=row["allowance_cents"],
        tickets_per_pass=row["tickets_per_pass"],
        ticket_min_cents=row["ticket_min_cents"],
        ticket_max_cents=row["ticket_max_cents"],
        eligible_postcode_prefixes=tuple(row["eligible_postcode_prefixes"]),
        eligible_levels=tuple(row["eligible_levels"]),
        redemption_cancel_grace_minutes=row["redemption_cancel_grace_minutes"],
        data_retention_days=row["data_retention_days"],
    )


class CampaignRepository(Repository):
    async def get(self, campaign_id: str, *, for_update: bool = False) -> Campaign | None:
        row = await self.fetch_one(f"SELECT {_CAMPAIGN_COLUMNS} FROM campaigns WHERE campaign_id = $1", campaign_id, for_update=for_update)
        return _campaign(row) if row else None

    async def list(self) -> list[Campaign]:
        rows = await self.conn.fetch(f"SELECT {_CAMPAIGN_COLUMNS} FROM campaigns ORDER BY enrolment_opens DESC, campaign_id")
        return [_campaign(r) for r in rows]

    async def put(self, c: Campaign) -> None:
        cal = c.calendar
        await self.conn.execute(
            f"""
            INSERT INTO campaigns ({_CAMPAIGN_COLUMNS})
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
            ON CONFLICT (campaign_id) DO UPDATE SET
                label = EXCLUDED.label,
                enrolment_opens = EXCLUDED.enrolment_opens,
                enrolment_closes = EXCLUDED.enrolment_closes,
                pass_valid_until = EXCLUDED.pass_valid_until,
                reimbursement_deadline = EXCLUDED.reimbursement_deadline,
                allowance_cents = EXCLUDED.allowance_cents,
                tickets_per_pass = EXCLUDED.tickets_per_pass,
                ticket_min_cents = EXCLUDED.ticket_min_cents,
                ticket_max_cents = EXCLUDED.ticket_max_cents,
                eligible_postcode_prefixes = EXCLUDED.eligible_postcode_prefixes,
                eligible_levels = EXCLUDED.eligible_levels,
                redemption_cancel_grace_minutes = EXCLUDED.redemption_cancel_grace_minutes,
                data_retention_days = EXCLUDED.data_retention_days,
                updated_at = now()
            """,
            c.campaign_id, c.label, cal.enrolment_opens, cal.enrolment_closes, cal.pass_valid_until,
            cal.reimbursement_deadline, c.allowance_cents, c.tickets_per_pass, c.ticket_min_cents, c.ticket_max_cents,
            list(c.eligible_postcode_prefixes), list(c.eligible_levels), c.redemption_cancel_grace_minutes,
            c.data_retention_days,
        )


_PURGE_COLUMNS = ("purge_id, campaign_id, purge_before, announced_at, requested_by, applications_anonymised, "
                  "roster_entries_deleted")


class PurgeRepository(Repository):
    async def of_campaign(self, campaign_id: str) -> CampaignPurge | None:
        row = await self.conn.fetchrow(f"SELECT {_PURGE_COLUMNS} FROM campaign_purges WHERE campaign_id = $1", campaign_id)
        return CampaignPurge(**dict(row)) if row else None

    async def by_campaign(self) -> dict[str, CampaignPurge]:
        rows = await self.conn.fetch(f"SELECT {_PURGE_COLUMNS} FROM campaign_purges")
        return {r["campaign_id"]: CampaignPurge(**dict(r)) for r in rows}

    async def add(self, purge: CampaignPurge) -> None:
        await self.conn.execute(
            f"INSERT INTO campaign_purges ({_PURGE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            purge.purge_id, purge.campaign_id, purge.purge_before, purge.announced_at, purge.requested_by,
            purge.applications_anonymised, purge.roster_entries_deleted,
        )
