"""The notification service's repositories (explicit SQL, domain objects out) and its unit of work."""

from __future__ import annotations

import asyncpg

from carnet_runtime import PostgresUnitOfWork

from .messages import BroadcastRepository, MessageRepository
from .people import AddressBook, CampaignRepository, RetentionRepository, WalletReadinessRepository

__all__ = [
    "AddressBook",
    "BroadcastRepository",
    "CampaignRepository",
    "MessageRepository",
    "NotificationUnitOfWork",
    "RetentionRepository",
    "WalletReadinessRepository",
]


class NotificationUnitOfWork(PostgresUnitOfWork):
    messages: MessageRepository
    broadcasts: BroadcastRepository
    campaigns: CampaignRepository
    people: AddressBook
    readiness: WalletReadinessRepository
    retention: RetentionRepository

    def bind(self, conn: asyncpg.Connection) -> None:
        self.messages = MessageRepository(conn)
        self.broadcasts = BroadcastRepository(conn)
        self.campaigns = CampaignRepository(conn)
        self.people = AddressBook(conn)
        self.readiness = WalletReadinessRepository(conn)
        self.retention = RetentionRepository(conn)
