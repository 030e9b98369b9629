"""Campaigns as this service knows them, and the login reminders of their opening day."""

from __future__ import annotations

import logging

from carnet_contracts import events

from ..domain.reimbursement import PARIS, Campaign, unknown_campaign
from .common import Clock, UnitOfWork, addressee, utc_now

log = logging.getLogger(__name__)


class Campaigns:
    def __init__(self, *, clock: Clock = utc_now) -> None:
        self.clock = clock

    async def published(self, uow: UnitOfWork, event: events.CampaignPublished) -> None:
        """The campaign copy: its deadline and cancel grace decide what a batch pays."""
        async with uow:
            await uow.campaigns.save(
                Campaign(
                    campaign_id=event.campaign_id,
                    label=event.label,
                    enrolment_opens=event.enrolment_opens,
                    pass_valid_until=event.pass_valid_until,
                    reimbursement_deadline=event.reimbursement_deadline,
                    redemption_cancel_grace_minutes=event.redemption_cancel_grace_minutes,
                ),
                self.clock(),
            )

    async def remind_due(self, uow: UnitOfWork) -> int:
        """On each campaign's opening day (Paris), every active organisation is reminded of its login."""
        reminded = 0
        async with uow:
            for campaign in await uow.campaigns.due_for_reminders(self.clock().astimezone(PARIS).date()):
                count = await self._remind(uow, campaign)
                log.info("logins reminded", extra={"campaign_id": campaign.campaign_id, "count": count})
                reminded += count
        return reminded

    async def remind(self, uow: UnitOfWork, campaign_id: str) -> int:
        """Remind now, instead of waiting for the campaign's opening day; nobody is reminded twice."""
        async with uow:
            campaign = await uow.campaigns.get(campaign_id, for_update=True)
            if campaign is None:
                raise unknown_campaign(campaign_id)
            return await self._remind(uow, campaign)

    async def _remind(self, uow: UnitOfWork, campaign: Campaign) -> int:
        """Every active organisation not yet reminded for this campaign gets its login (never a password)."""
        now = self.clock()
        reminded = 0
        for affiliate in await uow.affiliates.active():
            if await uow.campaigns.record_reminder(campaign.campaign_id, affiliate.affiliate_id, now):
                uow.publish(
                    events.AffiliateLoginReminded(**addressee(affiliate), login=affiliate.login,
                                                  campaign_id=campaign.campaign_id, campaign_label=campaign.label),
                    campaign_id=campaign.campaign_id,
                )
                reminded += 1
        await uow.campaigns.mark_reminded(campaign.campaign_id, now)
        return reminded
