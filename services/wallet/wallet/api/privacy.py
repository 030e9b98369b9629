"""A person's right to see what is held about them (API.md, Privacy)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Query
from pydantic import StringConstraints

from carnet_runtime.auth import Principal, require

from ..privacy_views import PrivacyExportView, export_view

if TYPE_CHECKING:
    from ..app import WalletApp

Email = Annotated[str, StringConstraints(min_length=3, max_length=320, pattern=r"^[^\s\x00-\x1f\x7f]+@[^\s\x00-\x1f\x7f]+$")]


def router(app: WalletApp) -> APIRouter:
    routes = APIRouter(prefix="/v1", tags=["privacy"])

    @routes.get("/privacy/export")
    async def export(email: Annotated[Email | None, Query(description="Admin: the guardian's e-mail")] = None,
                     principal: Principal = require("family", "admin")) -> PrivacyExportView:
        """What the wallet service holds about the calling family, or (admin) the guardian with
        `email`: wallets, tickets (never a spendable code), acts done on the family's behalf, ticket
        e-mails whose sheet is kept."""
        return export_view(await app.use_cases.export(app.uow(), principal, email))

    return routes
