"""The wallet service's SQL, written out (asyncpg): repositories that return domain objects, and the
unit of work that builds them on one transaction's connection, so that a state change and its
outbox events commit together."""

from __future__ import annotations

from typing import Self

import asyncpg

from carnet_runtime import PostgresUnitOfWork
from carnet_runtime.outbox import Outbox

from ..codes import CodeVault
from .codes import CodeRotation, OutboxRows
from .copies import AffiliateCopies, CampaignCopies, PublishedTerms
from .figures import CampaignFigures, FiguresQuery
from .records import ActLog, SheetSnapshots
from .wallets import WalletRepository

__all__ = ["CampaignFigures", "PublishedTerms", "WalletUnitOfWork"]


class WalletUnitOfWork(PostgresUnitOfWork):
    """The wallet's repositories on one transaction; ticket codes are sealed with `vault` on the way
    in and opened on the way out."""

    def __init__(self, pool: asyncpg.Pool | None, outbox: Outbox, *, vault: CodeVault,
                 connection: asyncpg.Connection | None = None):
        super().__init__(pool, outbox, connection=connection)
        self.vault = vault

    @classmethod
    def joining(cls, connection: asyncpg.Connection, outbox: Outbox, *, vault: CodeVault) -> Self:  # type: ignore[override]
        return cls(None, outbox, vault=vault, connection=connection)

    def bind(self, conn: asyncpg.Connection) -> None:
        self.wallets = WalletRepository(conn, self.vault)
        self.affiliates = AffiliateCopies(conn)
        self.campaigns = CampaignCopies(conn)
        self.figures = FiguresQuery(conn)
        self.acts = ActLog(conn)
        self.snapshots = SheetSnapshots(conn, self.vault)
        self.codes = CodeRotation(conn, self.vault)
        self.outbox_rows = OutboxRows(conn)
