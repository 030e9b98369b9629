"""HTTP routes of the wallet (API.md, Wallet, Figures, Privacy): parse, call one use case, answer a
response model (views.py, privacy_views.py) or a PDF."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter

from . import figures, privacy, sheets, wallets
from .parsing import parse_positions, parse_wallet_ids

if TYPE_CHECKING:
    from ..app import WalletApp

__all__ = ["parse_positions", "parse_wallet_ids", "routers"]


def routers(app: WalletApp) -> list[APIRouter]:
    return [wallets.router(app), sheets.router(app), figures.router(app), privacy.router(app)]
