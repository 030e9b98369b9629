"""Schools' rosters: each import replaces the school's previous one; a roster belongs to the campaign
in season when it was imported and goes at that campaign's purge."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from carnet_runtime.repository import Repository

from ..domain import Roster, RosterRecord


class RosterRepository(Repository):
    async def replace(self, school_id: str, roster: Roster, *, at: datetime, by: str, matched: int,
                      campaign_id: str | None) -> None:
        """The school's roster becomes this one; the import is recorded with its counts."""
        await self.conn.execute("DELETE FROM roster_entries WHERE school_id = $1", school_id)
        await self.conn.copy_records_to_table(
            "roster_entries",
            records=[
                (school_id, str(e.key), e.last_name, e.first_name, e.birth_date, e.level, e.line, at, campaign_id)
                for e in roster.entries
            ],
            columns=["school_id", "student_key", "last_name", "first_name", "birth_date", "level", "line", "imported_at",
                     "campaign_id"],
        )
        await self.conn.execute(
            """
            INSERT INTO roster_imports (school_id, imported_by, imported_at, encoding, imported, rejected, matched, campaign_id)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
            """,
            school_id, by, at, roster.encoding, len(roster.entries), len(roster.rejected), matched, campaign_id,
        )

    async def delete_campaign(self, campaign_id: str) -> int:
        """The campaign's purge: its rosters (pupils who never applied included) and their imports go,
        with any roster imported before any campaign existed."""
        done = await self.conn.execute(
            "DELETE FROM roster_entries WHERE campaign_id = $1 OR campaign_id IS NULL", campaign_id
        )
        await self.conn.execute("DELETE FROM roster_imports WHERE campaign_id = $1 OR campaign_id IS NULL", campaign_id)
        return int(done.split()[-1])

    async def of_applications(self, application_ids: Sequence[str]) -> list[RosterRecord]:
        """The roster lines about the children of these applications (same school, same student)."""
        rows = await self.conn.fetch(
            """
            SELECT DISTINCT r.school_id, r.campaign_id, r.last_name, r.first_name, r.birth_date, r.level, r.line,
                   r.imported_at
            FROM roster_entries r JOIN applications a ON a.school_id = r.school_id AND a.student_key = r.student_key
            WHERE a.application_id = ANY($1::text[])
            ORDER BY r.school_id, r.line
            """,
            list(application_ids),
        )
        return [RosterRecord(**dict(r)) for r in rows]

    async def delete_students(self, application_ids: Sequence[str]) -> int:
        """A guardian's erasure: the roster lines about those children go (before the applications lose
        the key that finds them)."""
        done = await self.conn.execute(
            """
            DELETE FROM roster_entries r USING applications a
            WHERE a.application_id = ANY($1::text[]) AND a.school_id = r.school_id AND a.student_key = r.student_key
            """,
            list(application_ids),
        )
        return int(done.split()[-1])
