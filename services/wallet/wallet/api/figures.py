"""The campaign's figures (API.md, Figures)."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Query

from carnet_runtime.auth import Principal, require

from ..views import WalletFigures, figures_view
from .parsing import CampaignId

if TYPE_CHECKING:
    from ..app import WalletApp


def router(app: WalletApp) -> APIRouter:
    routes = APIRouter(prefix="/v1", tags=["figures"])

    @routes.get("/stats")
    async def stats(campaign_id: CampaignId | None = None,
                    as_of: Annotated[date | None, Query(description="A Europe/Paris day; today by default")] = None,
                    principal: Principal = require("admin")) -> WalletFigures:
        """Passes with a wallet, credited amount, tickets by amount and by status; and, as of the end
        of `as_of`, the money committed: outstanding (by validity end), expired unspent, redeemed."""
        found = await app.use_cases.figures(app.uow(), campaign_id, as_of)
        return figures_view(found, campaign_id, app.settings.watched_amounts_cents)

    return routes
