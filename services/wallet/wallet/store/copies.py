"""The copies the wallet keeps from other services' events: affiliates (to check an assignment and
print a name) and campaigns (whose published terms reach their wallets)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from carnet_runtime.repository import Repository

from ..domain import Affiliate


class AffiliateCopies(Repository):
    """The wallet's copy of affiliates, from the affiliation service's events."""

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


class CampaignCopies(Repository):
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

    async def terms_of(self, campaign_ids: Iterable[str]) -> dict[str, PublishedTerms]:
        """The published terms of those campaigns the wallet has seen published."""
        rows = await self.conn.fetch(
            """
            SELECT campaign_id, label, pass_valid_until, ticket_min_cents, ticket_max_cents
            FROM campaigns WHERE campaign_id = ANY($1::text[])
            """,
            list(set(campaign_ids)),
        )
        return {r["campaign_id"]: PublishedTerms(r["label"], r["pass_valid_until"], r["ticket_min_cents"],
                                                 r["ticket_max_cents"]) for r in rows}
