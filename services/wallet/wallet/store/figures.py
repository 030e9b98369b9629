"""The campaign's figures in SQL: counts and sums over wallets and tickets, and the groups the
commitments as of a day are computed from (domain/commitments.py). Only non-personal columns are
read, so the figures come out the same after a campaign's purge."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from carnet_runtime.repository import Repository

from ..domain import HOLDS_AMOUNT, HeldGroup, cutoff

_HOLDING = sorted(status.value for status in HOLDS_AMOUNT)
_SCOPE = "($1::text IS NULL OR w.campaign_id = $1)"
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


class FiguresQuery(Repository):
    async def of_campaign(self, campaign_id: str | None, now: datetime) -> CampaignFigures:
        conn = self.conn
        totals = await conn.fetchrow(
            f"""
            SELECT count(*) AS wallets, coalesce(sum(w.allowance_cents), 0) AS allowance,
                   count(*) FILTER (WHERE EXISTS (SELECT 1 FROM tickets t
                                                  WHERE t.wallet_id = w.wallet_id AND t.status = 'redeemed')) AS used
            FROM wallets w WHERE {_SCOPE}
            """,
            campaign_id,
        )
        credited = await conn.fetchval(
            f"""
            SELECT coalesce(sum(t.amount_cents), 0) FROM tickets t JOIN wallets w USING (wallet_id)
            WHERE {_SCOPE} AND t.status = ANY($2::text[])
            """,
            campaign_id, _HOLDING,
        )
        by_status = await conn.fetch(
            f"""
            SELECT {_SHOWN_STATUS} AS shown, count(*) AS n
            FROM tickets t JOIN wallets w USING (wallet_id) WHERE {_SCOPE} GROUP BY shown
            """,
            campaign_id, now,
        )
        by_amount = await conn.fetch(
            f"""
            SELECT t.amount_cents, {_SHOWN_STATUS} AS shown, count(*) AS n
            FROM tickets t JOIN wallets w USING (wallet_id)
            WHERE {_SCOPE} AND t.amount_cents IS NOT NULL
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

    async def held_groups(self, campaign_id: str | None, as_of: date) -> list[HeldGroup]:
        """The tickets holding an amount, grouped by validity end, credited by the end of `as_of`
        (Paris) and redeemed by then (HeldGroup.of_ticket, in SQL)."""
        rows = await self.conn.fetch(
            f"""
            SELECT w.valid_until,
                   coalesce(t.credited_at < $3, true) AS credited_by,
                   (t.status = 'redeemed' AND coalesce(t.redeemed_at < $3, true)) AS redeemed_by,
                   sum(t.amount_cents) AS cents, count(*) AS n
            FROM tickets t JOIN wallets w USING (wallet_id)
            WHERE {_SCOPE} AND t.status = ANY($2::text[])
            GROUP BY 1, 2, 3
            """,
            campaign_id, _HOLDING, cutoff(as_of),
        )
        return [HeldGroup(r["valid_until"], r["credited_by"], r["redeemed_by"], r["cents"], r["n"]) for r in rows]
