"""Campaigns: publish or change one, read them (with their purge, once done), and the figures of one."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from carnet_contracts.events import CampaignPublished
from carnet_runtime import Refusal

from ..domain import Campaign, CampaignPurge, figures, paris_day
from ..store import EnrolmentUnitOfWork
from .common import unknown_campaign


@dataclass(frozen=True)
class PublishCampaign:
    campaign_id: str
    settings: Mapping[str, Any]  # the admin's fields; the domain names every wrong one


@dataclass(frozen=True)
class CampaignShown:
    """A campaign and its purge, once done: a purged campaign is still listed, with its figures."""

    campaign: Campaign
    purge: CampaignPurge | None


async def publish_campaign(uow: EnrolmentUnitOfWork, command: PublishCampaign) -> CampaignShown:
    """Creates or changes the campaign; CampaignPublished only when something changed. A purged
    campaign no longer changes: its season is over and its personal data gone."""
    campaign = Campaign.from_settings(command.campaign_id, command.settings)
    async with uow:
        before = await uow.campaigns.get(campaign.campaign_id, for_update=True)
        purge = await uow.purges.of_campaign(campaign.campaign_id) if before else None
        if before != campaign:
            if purge is not None:
                raise Refusal("CAMPAIGN_PURGED",
                              "Cette campagne est terminée et ses données personnelles ont été purgées : "
                              "elle ne peut plus être modifiée.",
                              {"campaign_id": campaign.campaign_id, "purged_at": purge.announced_at.isoformat()})
            await uow.campaigns.put(campaign)
            uow.publish(CampaignPublished(**campaign.settings()))
    return CampaignShown(campaign, purge)


async def list_campaigns(uow: EnrolmentUnitOfWork) -> list[CampaignShown]:
    async with uow:
        purges = await uow.purges.by_campaign()
        return [CampaignShown(c, purges.get(c.campaign_id)) for c in await uow.campaigns.list()]


async def get_campaign(uow: EnrolmentUnitOfWork, campaign_id: str) -> CampaignShown:
    async with uow:
        campaign = await uow.campaigns.get(campaign_id)
        if campaign is None:
            raise unknown_campaign(campaign_id)
        return CampaignShown(campaign, await uow.purges.of_campaign(campaign_id))


async def campaign_figures(uow: EnrolmentUnitOfWork, campaign_id: str | None, *, now: datetime) -> dict[str, Any]:
    """Applications by status and school, the validation delay overall and per school, the files still
    waiting and their age on today's Paris date; for one campaign or all (a purged one included)."""
    async with uow:
        if campaign_id is not None and await uow.campaigns.get(campaign_id) is None:
            raise unknown_campaign(campaign_id)
        facts = await uow.applications.facts(campaign_id)
    return {"campaign_id": campaign_id, **figures(facts, paris_day(now))}
