"""The database: a pool per service, its database created on first start, numbered migrations."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

log = logging.getLogger(__name__)

RUNTIME_MIGRATIONS = Path(__file__).parent / "migrations"
_MIGRATION_NAME = re.compile(r"^(\d{4})_[\w-]+\.sql$")
# One advisory lock key for "migrating this database", whichever service or replica asks.
_MIGRATION_LOCK_KEY = 0x6361726E6574  # "carnet"


async def _init_connection(conn: asyncpg.Connection) -> None:
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(type_name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def ensure_database(dsn: str) -> None:
    """Create the service's database if the server does not have it yet (local and test stacks)."""
    try:
        conn = await asyncpg.connect(dsn)
    except asyncpg.InvalidCatalogNameError:
        parts = urlsplit(dsn)
        name = parts.path.lstrip("/")
        admin = await asyncpg.connect(urlunsplit(parts._replace(path="/postgres")))
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        except asyncpg.DuplicateDatabaseError:
            pass
        finally:
            await admin.close()
    else:
        await conn.close()


async def create_pool(dsn: str, *, min_size: int = 2, max_size: int = 10) -> asyncpg.Pool:
    return await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size, init=_init_connection)


def migration_files(directory: Path) -> list[tuple[str, Path]]:
    files = []
    for path in sorted(directory.glob("*.sql")):
        if not _MIGRATION_NAME.match(path.name):
            raise ValueError(f"migration file name must look like 0001_what.sql: {path.name}")
        files.append((path.stem, path))
    return files


async def apply_migrations(conn: asyncpg.Connection, directory: Path, *, scope: str) -> list[str]:
    """Apply the files of `directory` not yet recorded for `scope`, each once, in order.

    Runs under a session advisory lock, so two processes starting together apply each
    file exactly once: the second waits, then finds them recorded.
    """
    applied_now: list[str] = []
    await conn.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK_KEY)
    try:
        await conn.execute(
            """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                scope      text        NOT NULL,
                version    text        NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (scope, version)
            )
            """
        )
        done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations WHERE scope = $1", scope)}
        for version, path in migration_files(directory):
            if version in done:
                continue
            async with conn.transaction():
                await conn.execute(path.read_text(encoding="utf-8"))
                await conn.execute("INSERT INTO schema_migrations (scope, version) VALUES ($1, $2)", scope, version)
            log.info("migration applied", extra={"scope": scope, "version": version})
            applied_now.append(version)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _MIGRATION_LOCK_KEY)
    return applied_now


async def migrate(dsn: str, service_migrations: Path, *, service: str) -> list[str]:
    """The runtime's own tables (outbox, inbox) first, then the service's."""
    await ensure_database(dsn)
    conn = await asyncpg.connect(dsn)
    try:
        applied = await apply_migrations(conn, RUNTIME_MIGRATIONS, scope="runtime")
        if service_migrations.is_dir():
            applied += await apply_migrations(conn, service_migrations, scope=service)
        return applied
    finally:
        await conn.close()
