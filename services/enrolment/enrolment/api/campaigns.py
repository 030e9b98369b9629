"""Routes of campaigns, schools and the figures."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter

from carnet_runtime import PlainText
from carnet_runtime.auth import Principal, require

from ..application import campaigns, schools
from .schemas import CampaignIn, SchoolIn
from .views import CampaignView, FiguresView, SchoolView

if TYPE_CHECKING:
    from ..app import EnrolmentApp

ANYONE = ("family", "correspondent", "admin", "affiliate", "service")


def router(app: EnrolmentApp) -> APIRouter:
    r = APIRouter()
    anyone = require(*ANYONE)
    admin = require("admin")

    @r.put("/campaigns/{campaign_id}", summary="Publish or change a campaign (admin)")
    async def put_campaign(campaign_id: PlainText, body: CampaignIn, principal: Principal = admin) -> CampaignView:
        command = campaigns.PublishCampaign(campaign_id, body.model_dump(exclude_none=True))
        return CampaignView.of(await campaigns.publish_campaign(app.uow(), command))

    @r.get("/campaigns", summary="Every campaign, the latest first")
    async def list_campaigns(principal: Principal = anyone) -> list[CampaignView]:
        return [CampaignView.of(c) for c in await campaigns.list_campaigns(app.uow())]

    @r.get("/campaigns/{campaign_id}", summary="A campaign: calendar, amounts, eligibility")
    async def get_campaign(campaign_id: PlainText, principal: Principal = anyone) -> CampaignView:
        return CampaignView.of(await campaigns.get_campaign(app.uow(), campaign_id))

    @r.put("/schools/{school_id}", summary="Create or change a school (admin)", response_model=SchoolView,
           response_model_exclude_unset=True)
    async def put_school(school_id: PlainText, body: SchoolIn, principal: Principal = admin) -> SchoolView:
        command = schools.RegisterSchool(school_id, body.model_dump())
        return SchoolView.of(await schools.register_school(app.uow(), principal, command))

    @r.get("/schools", summary="Every school (the correspondent's address: admin only)",
           response_model=list[SchoolView], response_model_exclude_unset=True)
    async def list_schools(principal: Principal = anyone) -> list[SchoolView]:
        return [SchoolView.of(s) for s in await schools.list_schools(app.uow(), principal)]

    @r.get("/schools/{school_id}", summary="A school (the correspondent's address: admin only)",
           response_model=SchoolView, response_model_exclude_unset=True)
    async def get_school(school_id: PlainText, principal: Principal = anyone) -> SchoolView:
        return SchoolView.of(await schools.get_school(app.uow(), principal, school_id))

    @r.get("/stats", summary="Figures for the département: by status, by school, validation delay")
    async def stats(campaign_id: PlainText | None = None, principal: Principal = admin) -> FiguresView:
        return FiguresView.model_validate(await campaigns.campaign_figures(app.uow(), campaign_id))

    return r
