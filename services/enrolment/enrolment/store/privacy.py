"""A guardian's erasures, and the copies of erased or purged data in the runtime's outbox."""

from __future__ import annotations

from collections.abc import Sequence

from carnet_runtime.purge import forget_outbox_rows
from carnet_runtime.repository import Repository

from ..domain import Erasure


class PrivacyRepository(Repository):
    async def record_erasure(self, erasure: Erasure, *, requested_by: str) -> None:
        """Recorded without the address nor the family accounts: what was erased, when, by whom."""
        await self.conn.execute(
            """
            INSERT INTO privacy_erasures (erasure_id, requested_at, requested_by, application_ids, wallet_ids, campaign_ids)
            VALUES ($1, $2, $3, $4, $5, $6)
            """,
            erasure.erasure_id, erasure.requested_at, requested_by, list(erasure.application_ids),
            list(erasure.wallet_ids), list(erasure.campaign_ids),
        )

    async def forget_sent_events(self, application_ids: Sequence[str]) -> None:
        """The sent outbox rows about these applications go (their envelopes carry the names), and so do
        the sent weekly digests that listed one of them."""
        await forget_outbox_rows(self.conn, application_ids)
        await self.conn.execute(
            """
            DELETE FROM outbox WHERE state = 'sent' AND event_type = 'CorrespondentDigestDue'
              AND EXISTS (SELECT 1 FROM jsonb_array_elements(envelope->'data'->'waiting') w
                          WHERE w->>'application_id' = ANY($1::text[]))
            """,
            list(application_ids),
        )

    async def forget_digests_of_campaign(self, campaign_id: str) -> None:
        """A campaign's purge: the sent weekly digests that listed one of its applications go (a digest
        is about a school, not a campaign, so the runtime's share does not find them)."""
        await self.conn.execute(
            """
            DELETE FROM outbox WHERE state = 'sent' AND event_type = 'CorrespondentDigestDue'
              AND EXISTS (SELECT 1 FROM jsonb_array_elements(envelope->'data'->'waiting') w
                          JOIN applications a ON a.application_id = w->>'application_id'
                          WHERE a.campaign_id = $1)
            """,
            campaign_id,
        )
