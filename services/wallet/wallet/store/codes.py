"""Moving sealed codes under the first key of CARNET_WALLET_CODE_KEYS (a rotation, or the codes
migration 0002 left under 'cleartext'), and forgetting the outbox rows of erased wallets."""

from __future__ import annotations

import logging
from collections.abc import Iterable

import asyncpg

from carnet_runtime.purge import forget_outbox_rows
from carnet_runtime.repository import Repository

from ..codes import LEGACY_CLEARTEXT, CodeVault, Sealed, pending_place, snapshot_place, ticket_place

log = logging.getLogger(__name__)


class CodeRotation:
    def __init__(self, conn: asyncpg.Connection, vault: CodeVault):
        self.conn = conn
        self.vault = vault

    def _openable_old_keys(self) -> list[str]:
        return [k for k in self.vault.key_ids if k != self.vault.current_key_id] + [LEGACY_CLEARTEXT]

    async def reencrypt(self, batch: int) -> int:
        """Re-seal up to `batch` codes of each kind under the first key; how many moved. Codes under
        a key the settings no longer hold are left (and counted by `stranded`)."""
        old = self._openable_old_keys()
        tickets = await self._sealed_under(old, batch, "SELECT ticket_id, code_key_id AS key_id, code_ciphertext "
                                           "AS ciphertext FROM tickets WHERE code_key_id = ANY($1::text[])")
        for r in tickets:
            code, sealed = self._resealed(r, ticket_place(r["ticket_id"]))
            # Codes credited before encryption get their keyed hash (uniqueness) now.
            await self.conn.execute(
                "UPDATE tickets SET code_key_id = $2, code_ciphertext = $3, code_hash = coalesce(code_hash, $4) "
                "WHERE ticket_id = $1",
                r["ticket_id"], sealed.key_id, sealed.ciphertext, self.vault.hash(code),
            )
        pending = await self._sealed_under(old, batch, "SELECT ticket_id, pending_code_key_id AS key_id, "
                                           "pending_code_ciphertext AS ciphertext FROM tickets "
                                           "WHERE pending_code_key_id = ANY($1::text[])")
        for r in pending:
            _, sealed = self._resealed(r, pending_place(r["ticket_id"]))
            await self.conn.execute(
                "UPDATE tickets SET pending_code_key_id = $2, pending_code_ciphertext = $3 WHERE ticket_id = $1",
                r["ticket_id"], sealed.key_id, sealed.ciphertext,
            )
        snapshots = await self._sealed_under(old, batch, "SELECT request_id, position, ticket_id, code_key_id AS "
                                             "key_id, code_ciphertext AS ciphertext FROM sheet_snapshot_tickets "
                                             "WHERE code_key_id = ANY($1::text[])")
        for r in snapshots:
            _, sealed = self._resealed(r, snapshot_place(r["request_id"], r["ticket_id"]))
            await self.conn.execute(
                "UPDATE sheet_snapshot_tickets SET code_key_id = $3, code_ciphertext = $4 "
                "WHERE request_id = $1 AND position = $2",
                r["request_id"], r["position"], sealed.key_id, sealed.ciphertext,
            )
        return len(tickets) + len(pending) + len(snapshots)

    async def _sealed_under(self, old_keys: list[str], batch: int, query: str) -> list[asyncpg.Record]:
        """Up to `batch` rows of `query` (sealed under one of `old_keys`, $1), locked; those another
        replica holds are skipped."""
        return await self.conn.fetch(f"{query} LIMIT $2 FOR UPDATE SKIP LOCKED", old_keys, batch)

    def _resealed(self, row: asyncpg.Record, place: str) -> tuple[str, Sealed]:
        """The code a row's `key_id` and `ciphertext` seal, and the same code sealed under the first key."""
        code = self.vault.open(Sealed(row["key_id"], bytes(row["ciphertext"])), place)
        return code, self.vault.seal(code, place)

    async def stranded(self) -> int:
        """Codes sealed under a key CARNET_WALLET_CODE_KEYS no longer holds (they cannot be opened)."""
        known = [*self.vault.key_ids, LEGACY_CLEARTEXT]
        return await self.conn.fetchval(
            """
            SELECT (SELECT count(*) FROM tickets WHERE code_key_id <> ALL($1::text[]))
                 + (SELECT count(*) FROM tickets WHERE pending_code_key_id <> ALL($1::text[]))
                 + (SELECT count(*) FROM sheet_snapshot_tickets WHERE code_key_id <> ALL($1::text[]))
            """,
            known,
        )


class OutboxRows(Repository):
    """The runtime's outbox, as far as an erasure goes."""

    async def forget(self, message_keys: Iterable[str]) -> None:
        await forget_outbox_rows(self.conn, message_keys)
