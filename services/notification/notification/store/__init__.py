"""The notification service's repositories (explicit SQL, domain objects out) and its unit of work."""

from __future__ import annotations

from carnet_runtime import PostgresUnitOfWork

from .messages import BroadcastRepository, MessageRepository
from .people import AddressBook, CampaignRepository, RetentionRepository, WalletReadinessRepository
from .privacy import PrivacyRepository

__all__ = [
    "AddressBook",
    "BroadcastRepository",
    "CampaignRepository",
    "MessageRepository",
    "NotificationUnitOfWork",
    "PrivacyRepository",
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
    privacy: PrivacyRepository

