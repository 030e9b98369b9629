"""Schools and the weekly digests sent to their correspondents."""

from __future__ import annotations

from carnet_runtime.repository import Repository

from ..domain import Digest, School

_SCHOOL_COLUMNS = "school_id, name, postcode, city, correspondent_email"


class SchoolRepository(Repository):
    async def get(self, school_id: str, *, for_update: bool = False) -> School | None:
        row = await self.fetch_one(f"SELECT {_SCHOOL_COLUMNS} FROM schools WHERE school_id = $1", school_id, for_update=for_update)
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


class DigestRepository(Repository):
    async def schools_sent(self, week: str) -> set[str]:
        rows = await self.conn.fetch("SELECT DISTINCT school_id FROM correspondent_digests WHERE week = $1", week)
        return {r["school_id"] for r in rows}

    async def add(self, digest: Digest) -> bool:
        """False, and nothing written, when the school already had its week's digest (unless forced):
        the partial unique index decides, even between the periodic task and the admin's request."""
        added = await self.conn.fetchval(
            """
            INSERT INTO correspondent_digests (digest_id, school_id, week, due_at, sent_at, total_waiting, forced)
            VALUES ($1, $2, $3, $4, $5, $6, $7)
            ON CONFLICT (school_id, week) WHERE NOT forced DO NOTHING
            RETURNING true
            """,
            digest.digest_id, digest.school_id, digest.week, digest.due_at, digest.sent_at, digest.total_waiting,
            digest.forced,
        )
        return bool(added)
