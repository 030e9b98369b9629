"""Routes of the purge after the season and of a person's rights (API.md, Privacy)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter

from carnet_runtime import PlainText
from carnet_runtime.auth import Principal, require

from ..application import privacy
from .privacy_views import CampaignPurgeView, ErasureView, PrivacyExportView
from .schemas import ErasureIn

if TYPE_CHECKING:
    from ..app import EnrolmentApp


def router(app: EnrolmentApp) -> APIRouter:
    r = APIRouter()
    admin = require("admin")

    @r.post("/campaigns/{campaign_id}/purge", status_code=202,
            summary="Purge the campaign's personal data now (admin): once due, announced once")
    async def purge(campaign_id: PlainText, principal: Principal = admin) -> CampaignPurgeView:
        command = privacy.PurgeCampaign(campaign_id, requested_by="admin")
        return CampaignPurgeView.of(await privacy.purge_campaign(app.uow(), command, now=app.clock()))

    @r.get("/privacy/export",
           summary="What enrolment holds about the caller's family, or (admin) about the guardian with `?email=`")
    async def export(email: PlainText | None = None,
                     principal: Principal = require("family", "admin")) -> PrivacyExportView:
        return PrivacyExportView.of(await privacy.export(app.uow(), principal, email, now=app.clock()))

    @r.post("/privacy/erasures", status_code=202,
            summary="Erase what Carnet holds about a guardian and their children (admin)")
    async def erase(body: ErasureIn, principal: Principal = admin) -> ErasureView:
        command = privacy.EraseGuardian(body.email)
        return ErasureView.of(await privacy.erase_guardian(app.uow(), principal, command, now=app.clock()))

    return r
