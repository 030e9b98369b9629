"""HTTP routes of API.md's Affiliation section, one router per aggregate: each route parses, calls
one use case and renders a response model."""

from __future__ import annotations

from fastapi import APIRouter

from ..wiring import Affiliation
from . import accounts, conventions, organisations, reimbursements


def routers(app: Affiliation) -> list[APIRouter]:
    return [organisations.router(app), accounts.router(app), conventions.router(app), reimbursements.router(app)]
