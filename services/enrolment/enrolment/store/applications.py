"""Applications for a pass and their history; what the figures, the digests, the purge and a
person's rights read and change of them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import asyncpg

from carnet_runtime.repository import Repository

from ..domain import (
    Address,
    Application,
    ApplicationFact,
    ApplicationForm,
    ApplicationProgress,
    ApplicationRecord,
    ApplicationStatus,
    Guardian,
    StatusChange,
    Student,
    StudentKey,
    WaitingFile,
)

_APPLICATION_COLUMNS = """
    a.application_id, a.campaign_id, a.school_id, a.family_sub, a.channel,
    a.student_last_name, a.student_first_name, a.student_birth_date, a.student_level,
    a.guardian_last_name, a.guardian_first_name, a.guardian_email, a.guardian_phone,
    a.address_line, a.address_postcode, a.address_city,
    a.status, a.rejection_reason, a.wallet_id, a.anonymised_at,
    (SELECT coalesce(array_agg(h.status ORDER BY h.position), '{}') FROM application_history h
      WHERE h.application_id = a.application_id) AS history_status,
    (SELECT coalesce(array_agg(h.at ORDER BY h.position), '{}') FROM application_history h
      WHERE h.application_id = a.application_id) AS history_at,
    EXISTS (SELECT 1 FROM roster_entries r WHERE r.school_id = a.school_id AND r.student_key = a.student_key) AS on_roster
"""


def _application(row: asyncpg.Record) -> Application:
    """An application; an anonymised one has empty names, contact and address, and no birth date."""
    form = ApplicationForm(
        campaign_id=row["campaign_id"],
        school_id=row["school_id"],
        student=Student(row["student_last_name"] or "", row["student_first_name"] or "", row["student_birth_date"],
                        row["student_level"]),
        guardian=Guardian(row["guardian_last_name"] or "", row["guardian_first_name"] or "", row["guardian_email"] or "",
                          row["guardian_phone"]),
        address=Address(row["address_line"] or "", row["address_postcode"] or "", row["address_city"] or ""),
    )
    history = tuple(
        StatusChange(ApplicationStatus(s), at) for s, at in zip(row["history_status"], row["history_at"], strict=True)
    )
    progress = ApplicationProgress(ApplicationStatus(row["status"]), history, row["rejection_reason"], row["wallet_id"])
    return Application(row["application_id"], form, progress, row["family_sub"], row["channel"], row["on_roster"],
                       row["anonymised_at"])


class ApplicationRepository(Repository):
    async def student_already_applied(self, campaign_id: str, key: StudentKey) -> bool:
        return bool(await self.conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM applications WHERE campaign_id = $1 AND student_key = $2 AND status <> 'rejected')",
            campaign_id, str(key),
        ))

    async def add(self, application: Application, *, entered_by: str | None) -> bool:
        """False, and nothing written, when the student already has a live application in that
        campaign (the partial unique index decides, even between two racing requests)."""
        form, progress = application.form, application.progress
        st, gu, ad = form.student, form.guardian, form.address
        added = await self.conn.fetchval(
            """
            INSERT INTO applications (
                application_id, campaign_id, school_id, family_sub, channel, entered_by,
                student_last_name, student_first_name, student_birth_date, student_level, student_key,
                guardian_last_name, guardian_first_name, guardian_email, guardian_phone,
                address_line, address_postcode, address_city, status, submitted_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)
            ON CONFLICT (campaign_id, student_key) WHERE status <> 'rejected' DO NOTHING
            RETURNING true
            """,
            application.application_id, form.campaign_id, form.school_id, application.family_sub, application.channel,
            entered_by, st.last_name, st.first_name, st.birth_date, st.level, str(st.key),
            gu.last_name, gu.first_name, gu.email, gu.phone,
            ad.line, ad.postcode, ad.city, progress.status.value, progress.submitted_at,
        )
        if added:
            await self._append_history(application.application_id, progress, already=0)
        return bool(added)

    async def _append_history(self, application_id: str, progress: ApplicationProgress, *, already: int) -> None:
        new = progress.history[already:]
        if new:
            await self.conn.executemany(
                "INSERT INTO application_history (application_id, position, status, at) VALUES ($1, $2, $3, $4)",
                [(application_id, already + i + 1, c.status.value, c.at) for i, c in enumerate(new)],
            )

    async def get(self, application_id: str, *, for_update: bool = False) -> Application | None:
        if for_update:
            await self.conn.execute("SELECT 1 FROM applications WHERE application_id = $1 FOR UPDATE", application_id)
        row = await self.conn.fetchrow(
            f"SELECT {_APPLICATION_COLUMNS} FROM applications a WHERE a.application_id = $1", application_id
        )
        return _application(row) if row else None

    async def save_progress(self, before: Application, progress: ApplicationProgress, *,
                            decided_by: str | None = None) -> None:
        await self.conn.execute(
            """
            UPDATE applications SET status = $2, rejection_reason = $3, wallet_id = $4, validated_at = $5,
                   decided_by = coalesce($6, decided_by)
            WHERE application_id = $1
            """,
            before.application_id, progress.status.value, progress.rejection_reason, progress.wallet_id,
            progress.validated_at, decided_by,
        )
        await self._append_history(before.application_id, progress, already=len(before.progress.history))

    async def of_school(self, school_id: str, status: ApplicationStatus | None) -> list[Application]:
        rows = await self.conn.fetch(
            f"""
            SELECT {_APPLICATION_COLUMNS} FROM applications a
            WHERE a.school_id = $1 AND ($2::text IS NULL OR a.status = $2) AND a.anonymised_at IS NULL
            ORDER BY a.submitted_at, a.application_id
            """,
            school_id, status.value if status else None,
        )
        return [_application(r) for r in rows]

    async def of_family(self, family_sub: str) -> list[Application]:
        rows = await self.conn.fetch(
            f"""SELECT {_APPLICATION_COLUMNS} FROM applications a WHERE a.family_sub = $1
            ORDER BY a.submitted_at, a.application_id""",
            family_sub,
        )
        return [_application(r) for r in rows]

    async def submitted_students_of_school(self, school_id: str) -> list[tuple[str, StudentKey]]:
        rows = await self.conn.fetch(
            """
            SELECT application_id, student_last_name, student_first_name, student_birth_date FROM applications
            WHERE school_id = $1 AND status = 'submitted' AND anonymised_at IS NULL ORDER BY submitted_at, application_id
            """,
            school_id,
        )
        return [(r["application_id"], StudentKey.of(r["student_last_name"], r["student_first_name"], r["student_birth_date"]))
                for r in rows]

    async def facts(self, campaign_id: str | None) -> list[ApplicationFact]:
        rows = await self.conn.fetch(
            """
            SELECT school_id, status, submitted_at, validated_at FROM applications
            WHERE $1::text IS NULL OR campaign_id = $1
            """,
            campaign_id,
        )
        return [ApplicationFact(r["school_id"], ApplicationStatus(r["status"]), r["submitted_at"], r["validated_at"])
                for r in rows]

    # --- the weekly digest ---------------------------------------------------------------------

    async def waiting_counts(self) -> dict[str, int]:
        """Submitted applications still waiting for each school (anonymised ones cannot be decided)."""
        rows = await self.conn.fetch(
            """SELECT school_id, count(*) AS waiting FROM applications
            WHERE status = 'submitted' AND anonymised_at IS NULL GROUP BY school_id"""
        )
        return {r["school_id"]: r["waiting"] for r in rows}

    async def waiting_of_school(self, school_id: str, limit: int) -> list[WaitingFile]:
        rows = await self.conn.fetch(
            """
            SELECT application_id, student_last_name, student_first_name, channel, submitted_at FROM applications
            WHERE school_id = $1 AND status = 'submitted' AND anonymised_at IS NULL
            ORDER BY submitted_at, application_id LIMIT $2
            """,
            school_id, limit,
        )
        return [WaitingFile(**dict(r)) for r in rows]

    # --- purge, erasure, export ----------------------------------------------------------------

    async def of_guardian(self, email: str) -> list[Application]:
        """The applications (not yet anonymised) of the guardian with that address, whatever its case,
        and those made from the same family accounts."""
        rows = await self.conn.fetch(
            f"""
            SELECT {_APPLICATION_COLUMNS} FROM applications a
            WHERE a.anonymised_at IS NULL AND (
                lower(a.guardian_email) = lower($1)
                OR a.family_sub IN (SELECT family_sub FROM applications
                                    WHERE lower(guardian_email) = lower($1) AND family_sub IS NOT NULL))
            ORDER BY a.submitted_at, a.application_id
            """,
            email,
        )
        return [_application(r) for r in rows]

    async def records(self, *, family_sub: str | None = None, email: str | None = None) -> list[ApplicationRecord]:
        """Everything stored about a family's applications (by its account) or a guardian's (by address)."""
        rows = await self.conn.fetch(
            f"""
            SELECT {_APPLICATION_COLUMNS}, a.entered_by, a.decided_by, a.validated_at FROM applications a
            WHERE ($1::text IS NOT NULL AND a.family_sub = $1) OR ($2::text IS NOT NULL AND lower(a.guardian_email) = lower($2))
            ORDER BY a.submitted_at, a.application_id
            """,
            family_sub, email,
        )
        return [ApplicationRecord(_application(r), r["entered_by"], r["decided_by"], r["validated_at"]) for r in rows]

    _ANONYMISE = """
        UPDATE applications SET
            student_last_name = NULL, student_first_name = NULL, student_birth_date = NULL, student_key = NULL,
            guardian_last_name = NULL, guardian_first_name = NULL, guardian_email = NULL, guardian_phone = NULL,
            address_line = NULL, address_postcode = NULL, address_city = NULL, family_sub = NULL,
            rejection_reason = NULL, entered_by = NULL, decided_by = NULL, anonymised_at = $2, anonymised_by = $3
    """

    async def anonymise_campaign(self, campaign_id: str, *, at: datetime) -> int:
        """The campaign's purge: identities go; status, dates, school, level, channel and history stay."""
        done = await self.conn.execute(self._ANONYMISE + " WHERE campaign_id = $1 AND anonymised_at IS NULL",
                                       campaign_id, at, "purge")
        return int(done.split()[-1])

    async def anonymise(self, application_ids: Sequence[str], *, at: datetime) -> int:
        """A guardian's erasure, the same way as the purge."""
        done = await self.conn.execute(self._ANONYMISE + " WHERE application_id = ANY($1::text[]) AND anonymised_at IS NULL",
                                       list(application_ids), at, "erasure")
        return int(done.split()[-1])
