"""The wallet's use cases: one method per command or event, each in one unit of work: load the
wallet (under its row lock when it changes), let the domain decide, store, publish the events.
Who may act on a wallet is decided where it is loaded (access.py)."""

from __future__ import annotations

from .access import SHEET_SCOPE
from .family import AssignTicket, CreditTicket, EmailedSheet, EmailRequested, FamilyCommands, Shown, utc_now
from .housekeeping import Figures, Housekeeping
from .news import News
from .privacy import EmailRecord, Privacy, PrivacyExport

__all__ = [
    "SHEET_SCOPE", "AssignTicket", "CreditTicket", "EmailRecord", "EmailRequested", "EmailedSheet", "Figures",
    "PrivacyExport", "Shown", "WalletUseCases", "utc_now",
]


class WalletUseCases(FamilyCommands, News, Privacy, Housekeeping):
    """Every use case of the wallet, sharing the code hash key, the clock and the code generator."""
