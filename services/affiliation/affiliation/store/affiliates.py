"""Affiliated organisations (with their account and convention progress) and the audit trail."""

from __future__ import annotations

import json
from datetime import datetime

import asyncpg

from carnet_runtime.repository import Repository, from_row

from ..domain.convention import AuditRecord, ConventionProgress, ConventionStep
from ..domain.figures import AffiliateFigures
from ..domain.iban_change import IbanChange
from ..domain.one_time_code import CodeState
from ..domain.organisation import Activity, Address, Affiliate, AffiliateStatus, Organisation


def _affiliate(row: asyncpg.Record) -> Affiliate:
    return from_row(
        Affiliate, row,
        organisation=Organisation(
            name=row["name"],
            siret=row["siret"],
            activity=Activity(row["activity"]),
            address=Address(row["address_line"], row["postcode"], row["city"]),
            contact_email=row["contact_email"],
            iban=row["iban"],
        ),
        status=AffiliateStatus(row["status"]),
        convention=from_row(ConventionProgress, row, step=ConventionStep(row["convention_step"]),
                            version=row["convention_version"], sha256=row["convention_sha256"]),
    )


class AffiliateRepository(Repository):
    async def get(self, affiliate_id: str, *, for_update: bool = False) -> Affiliate | None:
        row = await self.fetch_one("SELECT * FROM affiliates WHERE affiliate_id = $1", affiliate_id, for_update=for_update)
        return _affiliate(row) if row else None

    async def by_login(self, login: str) -> Affiliate | None:
        row = await self.conn.fetchrow("SELECT * FROM affiliates WHERE login = $1", login)
        return _affiliate(row) if row else None

    async def by_login_or_email(self, identifier: str) -> Affiliate | None:
        """A reset request names the login or the contact e-mail; an e-mail shared by several takes the oldest."""
        row = await self.conn.fetchrow(
            """
            SELECT * FROM affiliates WHERE login = lower($1) OR lower(contact_email) = lower($1)
            ORDER BY (login = lower($1)) DESC, created_at LIMIT 1
            """,
            identifier.strip(),
        )
        return _affiliate(row) if row else None

    async def siret_taken(self, siret: str) -> bool:
        return bool(await self.conn.fetchval("SELECT 1 FROM affiliates WHERE siret = $1", siret))

    async def add(self, affiliate: Affiliate) -> bool:
        """False when its SIRET or login is already someone's (even an organisation being created
        at the same moment: the insert waits for that one's transaction)."""
        o = affiliate.organisation
        inserted = await self.conn.fetchval(
            """
            INSERT INTO affiliates (affiliate_id, name, siret, activity, address_line, postcode, city,
                                    contact_email, iban, bic, login, status, created_at, updated_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13)
            ON CONFLICT DO NOTHING RETURNING true
            """,
            affiliate.affiliate_id, o.name, o.siret, o.activity.value, o.address.line, o.address.postcode,
            o.address.city, o.contact_email, o.iban, affiliate.bic, affiliate.login, affiliate.status.value,
            affiliate.created_at,
        )
        return bool(inserted)

    async def save_account(self, affiliate: Affiliate, now: datetime) -> None:
        await self.conn.execute(
            """
            UPDATE affiliates SET password_hash = $2, account_activated_at = $3, status = $4, updated_at = $5
            WHERE affiliate_id = $1
            """,
            affiliate.affiliate_id, affiliate.password_hash, affiliate.account_activated_at,
            affiliate.status.value, now,
        )

    async def save_details(self, affiliate: Affiliate, now: datetime) -> None:
        o = affiliate.organisation
        await self.conn.execute(
            """
            UPDATE affiliates SET contact_email = $2, address_line = $3, postcode = $4, city = $5, activity = $6,
                                  updated_at = $7
            WHERE affiliate_id = $1
            """,
            affiliate.affiliate_id, o.contact_email, o.address.line, o.address.postcode, o.address.city,
            o.activity.value, now,
        )

    async def save_iban(self, affiliate: Affiliate, now: datetime) -> None:
        """The IBAN the next reimbursement batch pays (batches made before keep theirs)."""
        await self.conn.execute(
            "UPDATE affiliates SET iban = $2, bic = $3, updated_at = $4 WHERE affiliate_id = $1",
            affiliate.affiliate_id, affiliate.organisation.iban, affiliate.bic, now,
        )

    async def save_status(self, affiliate_id: str, status: AffiliateStatus, now: datetime) -> None:
        await self.conn.execute(
            "UPDATE affiliates SET status = $2, updated_at = $3 WHERE affiliate_id = $1",
            affiliate_id, status.value, now,
        )

    async def save_convention(self, affiliate: Affiliate, now: datetime) -> None:
        progress = affiliate.convention
        await self.conn.execute(
            """
            UPDATE affiliates
            SET convention_step = $2, convention_version = $3, convention_sha256 = $4, otp_hash = $5,
                otp_expires_at = $6, otp_failed_attempts = $7, otp_issues = $8, otp_window_started_at = $9,
                status = $10, signed_at = $11, updated_at = $12
            WHERE affiliate_id = $1
            """,
            affiliate.affiliate_id, progress.step.value, progress.version, progress.sha256, progress.otp_hash,
            progress.otp_expires_at, progress.otp_failed_attempts, progress.otp_issues,
            progress.otp_window_started_at, affiliate.status.value, affiliate.signed_at, now,
        )

    async def directory(
        self, *, city: str | None, activity: str | None, text: str | None, status: str, limit: int, offset: int
    ) -> list[Affiliate]:
        rows = await self.conn.fetch(
            """
            SELECT * FROM affiliates
            WHERE status = $1
              AND ($2::text IS NULL OR lower(city) = lower($2))
              AND ($3::text IS NULL OR activity = $3)
              AND ($4::text IS NULL OR name ILIKE '%' || $4 || '%' OR city ILIKE '%' || $4 || '%')
            ORDER BY name, affiliate_id
            LIMIT $5 OFFSET $6
            """,
            status, city, activity, text, limit, offset,
        )
        return [_affiliate(r) for r in rows]

    async def active(self) -> list[Affiliate]:
        rows = await self.conn.fetch("SELECT * FROM affiliates WHERE status = 'active' ORDER BY affiliate_id")
        return [_affiliate(r) for r in rows]

    async def by_status(self) -> dict[str, int]:
        rows = await self.conn.fetch("SELECT status, count(*) AS n FROM affiliates GROUP BY status")
        return {r["status"]: r["n"] for r in rows}

    async def shown_in_figures(self) -> list[AffiliateFigures]:
        """Every organisation that may redeem or did (active or suspended), with no amount yet."""
        rows = await self.conn.fetch(
            """
            SELECT affiliate_id, name, status, created_at FROM affiliates
            WHERE status IN ('active', 'suspended') ORDER BY affiliate_id
            """
        )
        return [AffiliateFigures(r["affiliate_id"], r["name"], r["status"], r["created_at"]) for r in rows]

    async def named(self, affiliate_ids: list[str]) -> list[AffiliateFigures]:
        rows = await self.conn.fetch(
            "SELECT affiliate_id, name, status, created_at FROM affiliates WHERE affiliate_id = ANY($1::text[])",
            affiliate_ids,
        )
        return [AffiliateFigures(r["affiliate_id"], r["name"], r["status"], r["created_at"]) for r in rows]


class AuditTrailRepository(Repository):
    """Append-only: the convention's steps, suspensions and reinstatements, changes of details and IBAN."""

    async def append(self, record: AuditRecord) -> None:
        await self.conn.execute(
            """
            INSERT INTO audit_trail (affiliate_id, action, account, client_address, at, document_version,
                                     document_sha256, details)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb)
            """,
            record.affiliate_id, record.action, record.account, record.client_address, record.at,
            record.document_version, record.document_sha256,
            json.dumps(record.details) if record.details is not None else None,
        )

    async def of(self, affiliate_id: str) -> list[AuditRecord]:
        rows = await self.conn.fetch("SELECT * FROM audit_trail WHERE affiliate_id = $1 ORDER BY id", affiliate_id)
        return [
            AuditRecord(r["affiliate_id"], r["action"], r["account"], r["client_address"], r["at"],
                        r["document_version"], r["document_sha256"],
                        json.loads(r["details"]) if r["details"] is not None else None)
            for r in rows
        ]


class IbanChangeRepository(Repository):
    """The IBAN change waiting for its code, one per organisation, with the code's window."""

    async def get(self, affiliate_id: str) -> IbanChange | None:
        """Locked until the transaction ends: two confirmations of one code cannot both count."""
        row = await self.conn.fetchrow("SELECT * FROM iban_changes WHERE affiliate_id = $1 FOR UPDATE", affiliate_id)
        if row is None:
            return None
        return IbanChange(
            affiliate_id=row["affiliate_id"],
            new_iban=row["new_iban"],
            requested_by=row["requested_by"],
            requested_at=row["requested_at"],
            code=CodeState(row["otp_hash"], row["otp_expires_at"], row["otp_failed_attempts"], row["otp_issues"],
                           row["otp_window_started_at"]),
        )

    async def save(self, change: IbanChange, now: datetime) -> None:
        code = change.code
        await self.conn.execute(
            """
            INSERT INTO iban_changes (affiliate_id, new_iban, requested_by, requested_at, otp_hash, otp_expires_at,
                                      otp_failed_attempts, otp_issues, otp_window_started_at, updated_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
            ON CONFLICT (affiliate_id) DO UPDATE
            SET new_iban = excluded.new_iban, requested_by = excluded.requested_by,
                requested_at = excluded.requested_at, otp_hash = excluded.otp_hash,
                otp_expires_at = excluded.otp_expires_at, otp_failed_attempts = excluded.otp_failed_attempts,
                otp_issues = excluded.otp_issues, otp_window_started_at = excluded.otp_window_started_at,
                updated_at = excluded.updated_at
            """,
            change.affiliate_id, change.new_iban, change.requested_by, change.requested_at, code.code_hash,
            code.expires_at, code.failed_attempts, code.issues, code.window_started_at, now,
        )
