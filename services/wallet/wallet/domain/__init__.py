"""The wallet's rules and value objects (no I/O): the wallet and its tickets, what is recorded
beside them, and the figures' arithmetic."""

from .commitments import Commitments, HeldGroup, ValidityShare, commitments, cutoff
from .records import Act, Action, SheetSnapshot, SnapshotTicket
from .wallet import (
    HOLDS_AMOUNT,
    MAX_TICKETS_PER_SHEET,
    Affiliate,
    CampaignTerms,
    Student,
    Ticket,
    TicketStatus,
    Wallet,
    format_day,
    format_euros,
    validity_end,
)
from carnet_runtime.errors import Refusal

__all__ = [
    "HOLDS_AMOUNT", "MAX_TICKETS_PER_SHEET", "Act", "Action", "Affiliate", "CampaignTerms", "Commitments",
    "HeldGroup", "Refusal", "SheetSnapshot", "SnapshotTicket", "Student", "Ticket", "TicketStatus",
    "ValidityShare", "Wallet", "commitments", "cutoff", "format_day", "format_euros", "validity_end",
]
