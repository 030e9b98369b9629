"""The redemption service's SQL: the scanner's one-statement path (scanner.py) and the unit of work
of everything else (repositories.py)."""

from .repositories import RedemptionUnitOfWork
from .scanner import Look, ScannerStore, StoredAnswer

__all__ = ["Look", "RedemptionUnitOfWork", "ScannerStore", "StoredAnswer"]
