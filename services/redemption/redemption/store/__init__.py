"""The redemption service's SQL: the scanner's one-statement path (scanner.py) and the unit of work
of everything else (repositories.py)."""

from .repositories import RedemptionUnitOfWork
from .scanner import Look, ScannerStore, Spent, StoredAnswer, scanner_pool

__all__ = ["Look", "RedemptionUnitOfWork", "ScannerStore", "Spent", "StoredAnswer", "scanner_pool"]
