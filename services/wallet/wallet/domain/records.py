"""What the wallet keeps beside wallets and tickets: the acts done on a family's behalf, and the
sheets ticket e-mails carry, as they were when asked."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID


class Action(StrEnum):
    CREDIT = "credit"
    ASSIGN = "assign"
    VOID = "void"
    REPLACE = "replace"
    PRINT = "print"
    EMAIL = "email"


@dataclass(frozen=True)
class Act:
    """Something a correspondent or the admin did on a family's wallet, for the family."""

    wallet_id: UUID
    action: Action
    actor_role: str
    actor_sub: str | None
    acted_at: datetime
    ticket_id: UUID | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SnapshotTicket:
    position: int
    ticket_id: UUID
    amount_cents: int
    affiliate_name: str | None
    code: str


@dataclass(frozen=True)
class SheetSnapshot:
    """The tickets of one ticket e-mail as they were when it was asked (codes kept sealed)."""

    request_id: UUID
    wallet_id: UUID
    campaign_id: str
    reason: str  # "requested" or "replaced"
    requested_at: datetime
    tickets: list[SnapshotTicket]

    @property
    def positions(self) -> list[int]:
        return [t.position for t in self.tickets]
