"""A family's data in PostgreSQL: a campaign's purge, a family's erasure, a person's export, and the
delivery figures (which read only what a purge keeps)."""

from __future__ import annotations

from datetime import datetime

from carnet_runtime.purge import forget_outbox_rows
from carnet_runtime.repository import Repository

from ..domain import ERASED, PURGED, About, KeptCopy, KeptMessage, MessageFigures, Person, Template
from .messages import ANONYMISED, about_of


class PrivacyRepository(Repository):
    async def purge_campaign(self, campaign_id: str, now: datetime) -> int:
        """The campaign's messages lose their personal data (those about its applications and wallets
        too, when an event left the campaign out), and its copies of guardians' addresses go. The
        number of messages anonymised."""
        anonymised = await self.conn.fetchval(
            f"""
            WITH campaign_applications AS (
                SELECT coalesce(array_agg(application_id), '{{}}') AS ids FROM families WHERE campaign_id = $3
            ), campaign_wallets AS (
                SELECT coalesce(array_agg(wallet_id), '{{}}') AS ids FROM wallets WHERE campaign_id = $3
            ), gone AS (
                UPDATE messages SET {ANONYMISED}
                WHERE forgotten_at IS NULL
                  AND (campaign_id = $3
                       OR application_ids && (SELECT ids FROM campaign_applications)
                       OR wallet_ids && (SELECT ids FROM campaign_wallets))
                RETURNING 1
            )
            SELECT count(*) FROM gone
            """,
            now, PURGED, campaign_id,
        )
        for table in ("families", "wallets", "wallet_readiness"):
            await self.conn.execute(f"DELETE FROM {table} WHERE campaign_id = $1", campaign_id)
        return anonymised

    async def erase(self, about: About, now: datetime) -> int:
        """Every message about these applications, wallets and family accounts, or written to the
        addresses the copies keep for them, loses its personal data; the copies go; the sent outbox
        rows of those messages go. The number of messages anonymised."""
        applications, wallets, subs = list(about.application_ids), list(about.wallet_ids), list(about.family_subs)
        emails = await self._addresses(applications, wallets, subs)
        erased = await self.conn.fetch(
            f"""
            UPDATE messages SET {ANONYMISED}
            WHERE forgotten_at IS NULL
              AND (application_ids && $3::text[] OR wallet_ids && $4::text[] OR family_subs && $5::text[]
                   OR recipient = ANY($6::text[]))
            RETURNING message_id
            """,
            now, ERASED, applications, wallets, subs, emails,
        )
        await self.conn.execute(
            """
            DELETE FROM families
            WHERE application_id = ANY($1::text[]) OR family_sub = ANY($2::text[]) OR guardian_email = ANY($3::text[])
            """,
            applications, subs, emails,
        )
        await self.conn.execute(
            """
            DELETE FROM wallets
            WHERE wallet_id = ANY($1::text[]) OR application_id = ANY($2::text[]) OR family_sub = ANY($3::text[])
               OR guardian_email = ANY($4::text[])
            """,
            wallets, applications, subs, emails,
        )
        await self.conn.execute(
            "DELETE FROM wallet_readiness WHERE application_id = ANY($1::text[]) OR recipient = ANY($2::text[])",
            applications, emails,
        )
        await forget_outbox_rows(self.conn, [str(r["message_id"]) for r in erased])
        return len(erased)

    async def _addresses(self, applications: list[str], wallets: list[str], subs: list[str]) -> list[str]:
        rows = await self.conn.fetch(
            """
            SELECT guardian_email FROM families WHERE application_id = ANY($1::text[]) OR family_sub = ANY($3::text[])
            UNION
            SELECT guardian_email FROM wallets
            WHERE wallet_id = ANY($2::text[]) OR application_id = ANY($1::text[]) OR family_sub = ANY($3::text[])
            UNION
            SELECT recipient FROM wallet_readiness WHERE application_id = ANY($1::text[]) AND recipient IS NOT NULL
            """,
            applications, wallets, subs,
        )
        return [r[0] for r in rows]

    # --- a person's export -------------------------------------------------------------------

    async def person(self, *, family_sub: str | None = None, email: str | None = None) -> Person:
        """A family account or a guardian's address, with what the copies know of them."""
        rows = await self.conn.fetch(
            """
            SELECT application_id, NULL AS wallet_id, family_sub, guardian_email FROM families
            WHERE family_sub = $1 OR guardian_email = $2
            UNION ALL
            SELECT application_id, wallet_id, family_sub, guardian_email FROM wallets
            WHERE family_sub = $1 OR guardian_email = $2
            """,
            family_sub, email,
        )
        about = About.of([r["application_id"] for r in rows], [r["wallet_id"] for r in rows],
                         [family_sub, *(r["family_sub"] for r in rows)])
        emails = dict.fromkeys([*([email] if email else []), *(r["guardian_email"] for r in rows)])
        return Person(tuple(emails), about.application_ids, about.wallet_ids, about.family_subs)

    async def messages_of(self, person: Person) -> list[KeptMessage]:
        """Messages written to the person's addresses, or about their applications, wallets, accounts."""
        rows = await self.conn.fetch(
            """
            SELECT * FROM messages
            WHERE recipient = ANY($1::text[]) OR application_ids && $2::text[] OR wallet_ids && $3::text[]
               OR family_subs && $4::text[]
            ORDER BY created_at, message_id
            """,
            list(person.emails), list(person.application_ids), list(person.wallet_ids), list(person.family_subs),
        )
        return [
            KeptMessage(
                message_id=str(r["message_id"]), template=Template(r["template"]), recipient=r["recipient"],
                subject=r["subject"], impersonal_subject=r["impersonal_subject"], text=r["body_text"],
                state=r["state"], attempts=r["attempts"], created_at=r["created_at"], sent_at=r["sent_at"],
                failed_at=r["failed_at"], campaign_id=r["campaign_id"], about=about_of(r),
            )
            for r in rows
        ]

    async def copies_of(self, person: Person) -> list[KeptCopy]:
        """The copies of the person's addresses: per application, per wallet, and the wallet-ready join."""
        applications, wallets, emails = list(person.application_ids), list(person.wallet_ids), list(person.emails)
        families = await self.conn.fetch(
            "SELECT * FROM families WHERE application_id = ANY($1::text[]) OR guardian_email = ANY($2::text[]) "
            "ORDER BY application_id", applications, emails,
        )
        kept = await self.conn.fetch(
            "SELECT * FROM wallets WHERE wallet_id = ANY($1::text[]) OR guardian_email = ANY($2::text[]) "
            "ORDER BY wallet_id", wallets, emails,
        )
        joins = await self.conn.fetch(
            "SELECT * FROM wallet_readiness WHERE application_id = ANY($1::text[]) OR recipient = ANY($2::text[]) "
            "ORDER BY application_id", applications, emails,
        )
        return [
            *(KeptCopy("application", r["application_id"], r["campaign_id"], r["guardian_email"]) for r in families),
            *(KeptCopy("wallet", r["wallet_id"], r["campaign_id"], r["guardian_email"],
                       {"student_first_name": r["student_first_name"]}) for r in kept),
            *(KeptCopy("wallet_ready", r["application_id"], r["campaign_id"], r["recipient"],
                       {k: v for k, v in (r["granted"] or {}).items() if k.endswith("_name") and v})
              for r in joins),
        ]

    # --- figures -------------------------------------------------------------------------------

    async def figures(self, campaign_id: str | None) -> MessageFigures:
        rows = await self.conn.fetch(
            """
            SELECT template, state, count(*) AS n, sum(attempts) AS attempts FROM messages
            WHERE $1::text IS NULL OR campaign_id = $1
            GROUP BY template, state
            """,
            campaign_id,
        )
        by_template: dict[str, dict[str, int]] = {}
        for r in rows:
            by_template.setdefault(r["template"], {})[r["state"]] = r["n"]
        return MessageFigures(campaign_id, by_template, sum(int(r["attempts"] or 0) for r in rows))
