"""Acts done on a family's behalf, and the sheets ticket e-mails carry (codes sealed)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

import asyncpg

from carnet_runtime.repository import Repository

from ..codes import CodeVault, snapshot_place
from ..domain import Act, Action, SheetSnapshot, SnapshotTicket


class ActLog(Repository):
    async def record(self, acts: Sequence[Act]) -> None:
        if not acts:
            return
        await self.conn.executemany(
            """
            INSERT INTO acts (wallet_id, ticket_id, action, actor_role, actor_sub, detail, acted_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7)
            """,
            [(a.wallet_id, a.ticket_id, a.action.value, a.actor_role, a.actor_sub, a.detail, a.acted_at)
             for a in acts],
        )

    async def of_wallets(self, wallet_ids: Sequence[UUID]) -> list[Act]:
        rows = await self.conn.fetch(
            """
            SELECT wallet_id, ticket_id, action, actor_role, actor_sub, detail, acted_at FROM acts
            WHERE wallet_id = ANY($1::uuid[]) ORDER BY acted_at, act_id
            """,
            list(wallet_ids),
        )
        return [Act(wallet_id=r["wallet_id"], action=Action(r["action"]), actor_role=r["actor_role"],
                    actor_sub=r["actor_sub"], acted_at=r["acted_at"], ticket_id=r["ticket_id"],
                    detail=r["detail"]) for r in rows]

    async def anonymise(self, wallet_ids: Sequence[UUID]) -> None:
        """Who acted (their account) goes; that a correspondent or the admin did what, when, stays."""
        await self.conn.execute("UPDATE acts SET actor_sub = NULL WHERE wallet_id = ANY($1::uuid[])", list(wallet_ids))


class SheetSnapshots:
    def __init__(self, conn: asyncpg.Connection, vault: CodeVault):
        self.conn = conn
        self.vault = vault

    async def add(self, snapshot: SheetSnapshot) -> None:
        await self.conn.execute(
            """
            INSERT INTO sheet_snapshots (request_id, wallet_id, campaign_id, reason, requested_at)
            VALUES ($1, $2, $3, $4, $5)
            """,
            snapshot.request_id, snapshot.wallet_id, snapshot.campaign_id, snapshot.reason, snapshot.requested_at,
        )
        rows = []
        for t in snapshot.tickets:
            sealed = self.vault.seal(t.code, snapshot_place(snapshot.request_id, t.ticket_id))
            rows.append((snapshot.request_id, t.position, t.ticket_id, t.amount_cents, t.affiliate_name,
                         sealed.key_id, sealed.ciphertext))
        await self.conn.executemany(
            """
            INSERT INTO sheet_snapshot_tickets
                (request_id, position, ticket_id, amount_cents, affiliate_name, code_key_id, code_ciphertext)
            VALUES ($1, $2, $3, $4, $5, $6, $7)
            """,
            rows,
        )

    async def get(self, request_id: UUID) -> SheetSnapshot | None:
        head = await self.conn.fetchrow(
            "SELECT request_id, wallet_id, campaign_id, reason, requested_at FROM sheet_snapshots WHERE request_id = $1",
            request_id,
        )
        if head is None:
            return None
        rows = await self.conn.fetch(
            """
            SELECT position, ticket_id, amount_cents, affiliate_name, code_key_id, code_ciphertext
            FROM sheet_snapshot_tickets WHERE request_id = $1 ORDER BY position
            """,
            request_id,
        )
        tickets = [SnapshotTicket(r["position"], r["ticket_id"], r["amount_cents"], r["affiliate_name"],
                                  self.vault.open_optional(r["code_key_id"], r["code_ciphertext"],
                                                           snapshot_place(request_id, r["ticket_id"])))
                   for r in rows]
        return SheetSnapshot(head["request_id"], head["wallet_id"], head["campaign_id"], head["reason"],
                             head["requested_at"], tickets)

    async def summaries(self, wallet_ids: Sequence[UUID]) -> list[tuple[UUID, UUID, str, datetime, list[int]]]:
        """(request id, wallet id, reason, when, positions) of the snapshots kept: never their codes."""
        rows = await self.conn.fetch(
            """
            SELECT s.request_id, s.wallet_id, s.reason, s.requested_at,
                   array_agg(t.position ORDER BY t.position) AS positions
            FROM sheet_snapshots s JOIN sheet_snapshot_tickets t USING (request_id)
            WHERE s.wallet_id = ANY($1::uuid[])
            GROUP BY s.request_id ORDER BY s.requested_at
            """,
            list(wallet_ids),
        )
        return [(r["request_id"], r["wallet_id"], r["reason"], r["requested_at"], list(r["positions"])) for r in rows]

    async def delete_older_than(self, before: datetime) -> int:
        done = await self.conn.execute("DELETE FROM sheet_snapshots WHERE requested_at < $1", before)
        return int(done.split()[-1])

    async def delete_of_wallets(self, wallet_ids: Sequence[UUID]) -> None:
        await self.conn.execute("DELETE FROM sheet_snapshots WHERE wallet_id = ANY($1::uuid[])", list(wallet_ids))
