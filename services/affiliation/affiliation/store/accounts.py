"""One-time links of accounts, and the failed logins the throttle counts."""

from __future__ import annotations

from datetime import datetime

from carnet_runtime.repository import Repository

from ..domain.account import StoredToken, TokenPurpose
from ..domain.login import LoginHistory


class TokenRepository(Repository):
    async def replace(
        self, affiliate_id: str, purpose: TokenPurpose, token_hash: str, expires_at: datetime, now: datetime
    ) -> None:
        """A new link retires the earlier unused ones: only the last e-mail works."""
        await self.conn.execute(
            "UPDATE account_tokens SET used_at = $3 WHERE affiliate_id = $1 AND purpose = $2 AND used_at IS NULL",
            affiliate_id, purpose.value, now,
        )
        await self.conn.execute(
            """
            INSERT INTO account_tokens (token_hash, affiliate_id, purpose, expires_at, created_at)
            VALUES ($1, $2, $3, $4, $5)
            """,
            token_hash, affiliate_id, purpose.value, expires_at, now,
        )

    async def find(self, token_hashes: list[str], affiliate_id: str | None = None) -> StoredToken | None:
        """The token stored under one of `token_hashes` (of that account, when given), locked until
        the transaction ends."""
        row = await self.conn.fetchrow(
            """
            SELECT * FROM account_tokens
            WHERE token_hash = ANY($1::text[]) AND ($2::text IS NULL OR affiliate_id = $2)
            LIMIT 1 FOR UPDATE
            """,
            token_hashes, affiliate_id,
        )
        if row is None:
            return None
        return StoredToken(
            affiliate_id=row["affiliate_id"],
            purpose=TokenPurpose(row["purpose"]),
            token_hash=row["token_hash"],
            expires_at=row["expires_at"],
            used_at=row["used_at"],
        )

    async def mark_used(self, token: StoredToken) -> None:
        await self.conn.execute("UPDATE account_tokens SET used_at = $2 WHERE token_hash = $1", token.token_hash,
                                token.used_at)


class LoginFailureRepository(Repository):
    """Failed logins by login (as typed) and client address, kept a day at most."""

    async def lock_client(self, client: str) -> None:
        """One client's attempts are admitted one at a time (every replica alike), so that parallel
        requests cannot all slip under a limit before any of them is counted."""
        await self.conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('affiliation.login:' || $1, 0))", client)

    async def history(self, login: str, client: str, since: datetime, client_account_limit: int) -> LoginHistory:
        row = await self.conn.fetchrow(
            """
            SELECT
              (SELECT count(*) FROM login_failures WHERE login = $1 AND at > $3) AS account_failures,
              count(*) AS client_failures,
              count(DISTINCT f.login) AS client_accounts,
              max(f.at) AS client_last_failure,
              ARRAY(SELECT at FROM login_failures WHERE login = $1 AND client_address = $2 AND at > $3
                    ORDER BY at DESC LIMIT $4) AS client_account_failures
            FROM login_failures f WHERE f.client_address = $2 AND f.at > $3
            """,
            login, client, since, client_account_limit,
        )
        return LoginHistory(
            account_failures=row["account_failures"],
            client_failures=row["client_failures"],
            client_accounts=row["client_accounts"],
            client_last_failure=row["client_last_failure"],
            client_account_failures=tuple(row["client_account_failures"]),
        )

    async def record(self, login: str, client: str, at: datetime) -> None:
        await self.conn.execute(
            "INSERT INTO login_failures (login, client_address, at) VALUES ($1, $2, $3)", login, client, at
        )

    async def forget(self, login: str, client: str) -> None:
        """The client proved it holds the password: its own failures on that login are forgiven."""
        await self.conn.execute("DELETE FROM login_failures WHERE login = $1 AND client_address = $2", login, client)

    async def purge(self, before: datetime) -> int:
        status = await self.conn.execute("DELETE FROM login_failures WHERE at < $1", before)
        return int(status.split()[-1])
