"""What the service keeps and when it forgets: personal data goes a set time after its campaign ends."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from carnet_contracts.calendar import end_of_paris_day


def forget_at(
    campaign_ends: date | None,
    created_at: datetime,
    retention_days: int,
    without_campaign_days: int,
) -> datetime:
    """When a message's personal data (recipient, subject, body) must be erased: retention_days
    after the campaign's last Paris day, or, for a message outside any known campaign (an
    affiliate's account lives across campaigns), without_campaign_days after it was created."""
    if campaign_ends is not None:
        return end_of_paris_day(campaign_ends) + timedelta(days=retention_days)
    return created_at + timedelta(days=without_campaign_days)


def campaign_ends(
    pass_valid_until: date | None, reimbursement_deadline: date | None
) -> date | None:
    """The campaign's last day: the later of the passes' validity end and the reimbursements'."""
    days = [d for d in (pass_valid_until, reimbursement_deadline) if d is not None]
    return max(days) if days else None


@dataclass(frozen=True)
class Campaign:
    """What the service keeps of a campaign: its label for messages, its dates for retention."""

    campaign_id: str
    label: str
    pass_valid_until: date
    reimbursement_deadline: date

    @property
    def ends(self) -> date | None:
        return campaign_ends(self.pass_valid_until, self.reimbursement_deadline)


@dataclass(frozen=True)
class RetentionPolicy:
    """Settings of the retention rule: days kept after a campaign's end, or after creation outside one."""

    days_after_campaign: int = 60
    days_without_campaign: int = 400

    def forget_at(self, campaign: Campaign | None, created_at: datetime) -> datetime:
        return forget_at(campaign.ends if campaign else None, created_at, self.days_after_campaign,
                         self.days_without_campaign)

