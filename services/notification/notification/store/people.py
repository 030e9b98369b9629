"""What the service learned from events to address people, campaigns' dates, and forgetting both."""

from __future__ import annotations

import uuid
from datetime import date, datetime

import asyncpg

from carnet_runtime.repository import Repository

from ..domain import FORGOTTEN, Audience, Campaign, FamilyCopy, WalletCopy, WalletReadiness, WalletReady
from .messages import ANONYMISED


class CampaignRepository(Repository):
    async def save(self, campaign: Campaign) -> None:
        await self.conn.execute(
            """
            INSERT INTO campaigns (campaign_id, label, pass_valid_until, reimbursement_deadline)
            VALUES ($1, $2, $3, $4)
            ON CONFLICT (campaign_id) DO UPDATE
            SET label = EXCLUDED.label, pass_valid_until = EXCLUDED.pass_valid_until,
                reimbursement_deadline = EXCLUDED.reimbursement_deadline
            """,
            campaign.campaign_id, campaign.label, campaign.pass_valid_until, campaign.reimbursement_deadline,
        )

    async def get(self, campaign_id: str | None) -> Campaign | None:
        if campaign_id is None:
            return None
        row = await self.conn.fetchrow("SELECT * FROM campaigns WHERE campaign_id = $1", campaign_id)
        return Campaign(**dict(row)) if row else None


class AddressBook(Repository):
    """Guardians per application and per wallet, schools' correspondents, affiliates' names and
    contacts: and only that."""

    async def remember_family(self, family: FamilyCopy, forget_at: datetime) -> None:
        await self.conn.execute(
            """
            INSERT INTO families (application_id, campaign_id, guardian_email, family_sub, forget_at)
            VALUES ($1, $2, $3, $4, $5)
            ON CONFLICT (application_id) DO UPDATE
            SET guardian_email = EXCLUDED.guardian_email, family_sub = coalesce(EXCLUDED.family_sub, families.family_sub)
            """,
            family.application_id, family.campaign_id, family.guardian_email, family.family_sub, forget_at,
        )

    async def family_subs_of(self, application_ids: list[str]) -> list[str]:
        """The family accounts of these applications, as far as the copies know them."""
        rows = await self.conn.fetch(
            "SELECT DISTINCT family_sub FROM families WHERE application_id = ANY($1::text[]) AND family_sub IS NOT NULL",
            application_ids,
        )
        return [r[0] for r in rows]

    async def campaign_of_applications(self, application_ids: list[str]) -> str | None:
        return await self.conn.fetchval(
            "SELECT campaign_id FROM families WHERE application_id = ANY($1::text[]) LIMIT 1", application_ids
        )

    async def remember_wallet(self, wallet: WalletCopy, forget_at: datetime) -> None:
        await self.conn.execute(
            """
            INSERT INTO wallets (wallet_id, application_id, campaign_id, family_sub, guardian_email,
                                 student_first_name, forget_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7)
            ON CONFLICT (wallet_id) DO UPDATE
            SET guardian_email = EXCLUDED.guardian_email, student_first_name = EXCLUDED.student_first_name
            """,
            wallet.wallet_id, wallet.application_id, wallet.campaign_id, wallet.family_sub, wallet.guardian_email,
            wallet.student_first_name, forget_at,
        )

    async def wallet(self, wallet_id: str) -> WalletCopy | None:
        row = await self.conn.fetchrow(f"SELECT {_WALLET_COLUMNS} FROM wallets WHERE wallet_id = $1", wallet_id)
        return WalletCopy(**dict(row)) if row else None

    async def wallet_of_application(self, application_id: str) -> WalletCopy | None:
        row = await self.conn.fetchrow(f"SELECT {_WALLET_COLUMNS} FROM wallets WHERE application_id = $1",
                                       application_id)
        return WalletCopy(**dict(row)) if row else None

    async def remember_correspondent(self, school_id: str, email: str | None) -> None:
        if email is None:
            await self.conn.execute("DELETE FROM correspondents WHERE school_id = $1", school_id)
            return
        await self.conn.execute(
            """
            INSERT INTO correspondents (school_id, email) VALUES ($1, $2)
            ON CONFLICT (school_id) DO UPDATE SET email = EXCLUDED.email
            """,
            school_id, email,
        )

    async def remember_affiliate(self, affiliate_id: str, name: str | None, email: str) -> None:
        await self.conn.execute(
            """
            INSERT INTO affiliates (affiliate_id, name, contact_email) VALUES ($1, $2, $3)
            ON CONFLICT (affiliate_id) DO UPDATE
            SET contact_email = EXCLUDED.contact_email, name = coalesce(EXCLUDED.name, affiliates.name)
            """,
            affiliate_id, name, email,
        )

    async def affiliate_activated(self, affiliate_id: str, name: str) -> None:
        """An organisation that may redeem (again): its name, and back in the affiliates' audience."""
        await self.conn.execute(
            """
            INSERT INTO affiliates (affiliate_id, name) VALUES ($1, $2)
            ON CONFLICT (affiliate_id) DO UPDATE SET name = EXCLUDED.name, suspended = false
            """,
            affiliate_id, name,
        )

    async def affiliate_suspended(self, affiliate_id: str) -> None:
        await self.conn.execute("UPDATE affiliates SET suspended = true WHERE affiliate_id = $1", affiliate_id)

    async def affiliate(self, affiliate_id: str | None) -> tuple[str | None, str | None]:
        """The organisation's name and contact address, as far as they are known (None, None otherwise)."""
        row = await self.conn.fetchrow(
            "SELECT name, contact_email FROM affiliates WHERE affiliate_id = $1", affiliate_id
        ) if affiliate_id else None
        return (row["name"], row["contact_email"]) if row else (None, None)

    async def audience(self, audience: Audience) -> list[str]:
        """The addresses known for an audience (an affiliate suspended is not in it)."""
        query = {
            Audience.FAMILIES: "SELECT guardian_email FROM families ORDER BY application_id",
            Audience.AFFILIATES: "SELECT contact_email FROM affiliates WHERE NOT suspended AND contact_email IS NOT NULL "
                                 "ORDER BY affiliate_id",
            Audience.CORRESPONDENTS: "SELECT email FROM correspondents ORDER BY school_id",
        }[audience]
        return [r[0] for r in await self.conn.fetch(query)]


_WALLET_COLUMNS = "wallet_id, application_id, campaign_id, guardian_email, student_first_name, family_sub"


class WalletReadinessRepository(Repository):
    """The two halves of the wallet-ready message. Each upsert locks the row, so of two concurrent
    halves the later one sees both."""

    async def record_grant(self, application_id: str, campaign_id: str, granted: WalletReady, recipient: str,
                           granted_event_id: uuid.UUID, forget_at: datetime) -> WalletReadiness:
        variables = {k: v.isoformat() if isinstance(v, date) else v for k, v in granted.variables().items()}
        row = await self.conn.fetchrow(
            """
            INSERT INTO wallet_readiness (application_id, campaign_id, granted, recipient, granted_event_id, forget_at)
            VALUES ($1, $2, $3::jsonb, $4, $5, $6)
            ON CONFLICT (application_id) DO UPDATE
            SET granted = EXCLUDED.granted, recipient = EXCLUDED.recipient,
                granted_event_id = EXCLUDED.granted_event_id, campaign_id = EXCLUDED.campaign_id
            RETURNING *
            """,
            application_id, campaign_id, variables, recipient, granted_event_id, forget_at,
        )
        return _readiness(row)

    async def record_wallet(self, application_id: str, campaign_id: str, wallet_event_id: uuid.UUID,
                            forget_at: datetime) -> WalletReadiness:
        row = await self.conn.fetchrow(
            """
            INSERT INTO wallet_readiness (application_id, campaign_id, wallet_event_id, forget_at)
            VALUES ($1, $2, $3, $4)
            ON CONFLICT (application_id) DO UPDATE SET wallet_event_id = EXCLUDED.wallet_event_id
            RETURNING *
            """,
            application_id, campaign_id, wallet_event_id, forget_at,
        )
        return _readiness(row)


def _readiness(row: asyncpg.Record) -> WalletReadiness:
    granted = None
    if row["granted"] is not None:
        variables = dict(row["granted"])
        if variables.get("pass_valid_until"):
            variables["pass_valid_until"] = date.fromisoformat(variables["pass_valid_until"])
        granted = WalletReady(**variables)
    return WalletReadiness(
        application_id=row["application_id"], campaign_id=row["campaign_id"], recipient=row["recipient"],
        granted=granted, wallet_event_id=row["wallet_event_id"],
    )


class RetentionRepository(Repository):
    """Forgetting personal data: messages' recipients, subjects and bodies, guardians' addresses."""

    async def reschedule(self, campaign_id: str, forget_at: datetime) -> None:
        """A campaign's dates changed or became known: its personal data is forgotten on the new date."""
        await self.conn.execute(
            "UPDATE messages SET forget_at = $2 WHERE campaign_id = $1 AND forgotten_at IS NULL",
            campaign_id, forget_at,
        )
        await self.conn.execute("UPDATE families SET forget_at = $2 WHERE campaign_id = $1", campaign_id, forget_at)
        await self.conn.execute("UPDATE wallets SET forget_at = $2 WHERE campaign_id = $1", campaign_id, forget_at)
        await self.conn.execute(
            "UPDATE wallet_readiness SET forget_at = $2 WHERE campaign_id = $1", campaign_id, forget_at
        )

    async def forget_due(self, now: datetime) -> int:
        """Erase recipients, bodies, sealed secrets and the personal parts of subjects whose time has come
        (a message not sent by then fails); keep the log's facts. The number of messages forgotten."""
        erased = await self.conn.fetchval(
            f"""
            WITH gone AS (
                UPDATE messages SET {ANONYMISED}
                WHERE forget_at <= $1 AND forgotten_at IS NULL
                RETURNING 1
            )
            SELECT count(*) FROM gone
            """,
            now, FORGOTTEN,
        )
        await self.conn.execute("DELETE FROM families WHERE forget_at <= $1", now)
        await self.conn.execute("DELETE FROM wallets WHERE forget_at <= $1", now)
        await self.conn.execute("DELETE FROM wallet_readiness WHERE forget_at <= $1", now)
        return erased
