"""The enrolment service's SQL, written out (asyncpg): one repository per aggregate, each running on
the unit of work's connection, inside its transaction, and returning domain objects."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from carnet_runtime import PostgresUnitOfWork

from .domain import (
    Address,
    Application,
    ApplicationFact,
    ApplicationForm,
    ApplicationProgress,
    ApplicationStatus,
    Campaign,
    CampaignCalendar,
    Guardian,
    Roster,
    School,
    StatusChange,
    Student,
    StudentKey,
)

# --- campaigns ----------------------------------------------------------------------------

_CAMPAIGN_COLUMNS = """
    campaign_id, label, enrolment_opens, enrolment_closes, pass_valid_until, reimbursement_deadline,
    allowance_cents, tickets_per_pass, ticket_min_cents, ticket_max_cents,
    eligible_postcode_prefixes, eligible_levels, redemption_cancel_grace_minutes
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
    )


class CampaignRepository:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def get(self, campaign_id: str, *, for_update: bool = False) -> Campaign | None:
        lock = " FOR UPDATE" if for_update else ""
        row = await self.conn.fetchrow(f"SELECT {_CAMPAIGN_COLUMNS} FROM campaigns WHERE campaign_id = $1{lock}", campaign_id)
        return _campaign(row) if row else None

    async def list(self) -> list[Campaign]:
        rows = await self.conn.fetch(f"SELECT {_CAMPAIGN_COLUMNS} FROM campaigns ORDER BY enrolment_opens DESC, campaign_id")
        return [_campaign(r) for r in rows]

    async def put(self, c: Campaign) -> None:
        cal = c.calendar
        await self.conn.execute(
            f"""
            INSERT INTO campaigns ({_CAMPAIGN_COLUMNS})
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
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
                updated_at = now()
            """,
            c.campaign_id, c.label, cal.enrolment_opens, cal.enrolment_closes, cal.pass_valid_until,
            cal.reimbursement_deadline, c.allowance_cents, c.tickets_per_pass, c.ticket_min_cents, c.ticket_max_cents,
            list(c.eligible_postcode_prefixes), list(c.eligible_levels), c.redemption_cancel_grace_minutes,
        )


# --- schools ----------------------------------------------------------------------------

_SCHOOL_COLUMNS = "school_id, name, postcode, city, correspondent_email"


class SchoolRepository:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def get(self, school_id: str, *, for_update: bool = False) -> School | None:
        lock = " FOR UPDATE" if for_update else ""
        row = await self.conn.fetchrow(f"SELECT {_SCHOOL_COLUMNS} FROM schools WHERE school_id = $1{lock}", school_id)
        return School(**dict(row)) if row else None

    async def list(self) -> list[School]:
        rows = await self.conn.fetch(f"SELECT {_SCHOOL_COLUMNS} FROM schools ORDER BY name, school_id")
        return [School(**dict(r)) for r in rows]

    async def put(self, s: School) -> None:
        await self.conn.execute(
            f"""
            INSERT INTO schools ({_SCHOOL_COLUMNS}) VALUES ($1, $2, $3, $4, $5)
            ON CONFLICT (school_id) DO UPDATE SET
                name = EXCLUDED.name, postcode = EXCLUDED.postcode, city = EXCLUDED.city,
                correspondent_email = EXCLUDED.correspondent_email, updated_at = now()
            """,
            s.school_id, s.name, s.postcode, s.city, s.correspondent_email,
        )


# --- applications ---------------------------------------------------------------------------

_APPLICATION_COLUMNS = """
    a.application_id, a.campaign_id, a.school_id, a.family_sub, a.channel,
    a.student_last_name, a.student_first_name, a.student_birth_date, a.student_level,
    a.guardian_last_name, a.guardian_first_name, a.guardian_email, a.guardian_phone,
    a.address_line, a.address_postcode, a.address_city,
    a.status, a.rejection_reason, a.wallet_id,
    (SELECT coalesce(array_agg(h.status ORDER BY h.position), '{}') FROM application_history h
      WHERE h.application_id = a.application_id) AS history_status,
    (SELECT coalesce(array_agg(h.at ORDER BY h.position), '{}') FROM application_history h
      WHERE h.application_id = a.application_id) AS history_at,
    EXISTS (SELECT 1 FROM roster_entries r WHERE r.school_id = a.school_id AND r.student_key = a.student_key) AS on_roster
"""


def _application(row: asyncpg.Record) -> Application:
    form = ApplicationForm(
        campaign_id=row["campaign_id"],
        school_id=row["school_id"],
        student=Student(row["student_last_name"], row["student_first_name"], row["student_birth_date"], row["student_level"]),
        guardian=Guardian(row["guardian_last_name"], row["guardian_first_name"], row["guardian_email"], row["guardian_phone"]),
        address=Address(row["address_line"], row["address_postcode"], row["address_city"]),
    )
    history = tuple(
        StatusChange(ApplicationStatus(s), at) for s, at in zip(row["history_status"], row["history_at"], strict=True)
    )
    progress = ApplicationProgress(ApplicationStatus(row["status"]), history, row["rejection_reason"], row["wallet_id"])
    return Application(row["application_id"], form, progress, row["family_sub"], row["channel"], row["on_roster"])


class ApplicationRepository:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

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
            WHERE a.school_id = $1 AND ($2::text IS NULL OR a.status = $2)
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
            WHERE school_id = $1 AND status = 'submitted' ORDER BY submitted_at, application_id
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


# --- rosters -------------------------------------------------------------------------------


class RosterRepository:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def replace(self, school_id: str, roster: Roster, *, at: datetime, by: str, matched: int) -> None:
        """The school's roster becomes this one; the import is recorded with its counts."""
        await self.conn.execute("DELETE FROM roster_entries WHERE school_id = $1", school_id)
        await self.conn.copy_records_to_table(
            "roster_entries",
            records=[
                (school_id, str(e.key), e.last_name, e.first_name, e.birth_date, e.level, e.line, at) for e in roster.entries
            ],
            columns=["school_id", "student_key", "last_name", "first_name", "birth_date", "level", "line", "imported_at"],
        )
        await self.conn.execute(
            """
            INSERT INTO roster_imports (school_id, imported_by, imported_at, encoding, imported, rejected, matched)
            VALUES ($1, $2, $3, $4, $5, $6, $7)
            """,
            school_id, by, at, roster.encoding, len(roster.entries), len(roster.rejected), matched,
        )


class EnrolmentUnitOfWork(PostgresUnitOfWork):
    campaigns: CampaignRepository
    schools: SchoolRepository
    applications: ApplicationRepository
    rosters: RosterRepository

    def bind(self, conn: asyncpg.Connection) -> None:
        self.campaigns = CampaignRepository(conn)
        self.schools = SchoolRepository(conn)
        self.applications = ApplicationRepository(conn)
        self.rosters = RosterRepository(conn)
