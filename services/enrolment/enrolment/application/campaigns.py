"""Campaigns: publish or change one, read them, and the figures of one."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from carnet_contracts.events import CampaignPublished

from ..domain import Campaign, figures
from ..store import EnrolmentUnitOfWork
from .common import unknown_campaign


@dataclass(frozen=True)
class PublishCampaign:
    campaign_id: str
    settings: Mapping[str, Any]  # the admin's fields; the domain names every wrong one


async def publish_campaign(uow: EnrolmentUnitOfWork, command: PublishCampaign) -> Campaign:
    """Creates or changes the campaign; CampaignPublished only when something changed."""
    campaign = Campaign.from_settings(command.campaign_id, command.settings)
    async with uow:
        before = await uow.campaigns.get(campaign.campaign_id, for_update=True)
        if before != campaign:
            await uow.campaigns.put(campaign)
            uow.publish(CampaignPublished(**campaign.settings()))
    return campaign


async def list_campaigns(uow: EnrolmentUnitOfWork) -> list[Campaign]:
    async with uow:
        return await uow.campaigns.list()


async def get_campaign(uow: EnrolmentUnitOfWork, campaign_id: str) -> Campaign:
    async with uow:
        campaign = await uow.campaigns.get(campaign_id)
    if campaign is None:
        raise unknown_campaign(campaign_id)
    return campaign


async def campaign_figures(uow: EnrolmentUnitOfWork, campaign_id: str | None) -> dict[str, Any]:
    """Applications by status and school, and the validation delay, for one campaign or all."""
    async with uow:
        if campaign_id is not None and await uow.campaigns.get(campaign_id) is None:
            raise unknown_campaign(campaign_id)
        facts = await uow.applications.facts(campaign_id)
    return {"campaign_id": campaign_id, **figures(facts)}
