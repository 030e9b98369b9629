"""Events of the redemption service: redemptions, voids and replacements at the counter's side."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from .. import topics
from ..envelope import Event

# --- redemption.redemptions --------------------------------------------------------------


class TicketRedeemed(Event):
    event_type = "TicketRedeemed"
    topic = topics.REDEMPTION_REDEMPTIONS

    redemption_id: str
    ticket_id: str
    wallet_id: str
    campaign_id: str
    affiliate_id: str
    amount_cents: int
    code_suffix: str
    redeemed_at: datetime


class RedemptionRejected(Event):
    """A scanner's attempt was refused (kept for the counter's statistics, never for the code)."""

    event_type = "RedemptionRejected"
    topic = topics.REDEMPTION_REDEMPTIONS

    ticket_id: str | None = None
    affiliate_id: str
    campaign_id: str | None = None
    reason_code: str
    attempted_at: datetime

    def key(self) -> str:
        return self.ticket_id or self.affiliate_id


class RedemptionCancelled(Event):
    event_type = "RedemptionCancelled"
    topic = topics.REDEMPTION_REDEMPTIONS

    redemption_id: str
    ticket_id: str
    wallet_id: str
    campaign_id: str
    affiliate_id: str
    amount_cents: int
    cancelled_at: datetime
    # Who undid it: the affiliate within the grace period, or the admin later, with a reason.
    cancelled_by_role: Literal["affiliate", "admin"] = "affiliate"
    reason: str | None = None
    # What the ticket became: redeemable again, or voided (then TicketVoided follows).
    then: Literal["redeemable", "void"] = "redeemable"


class TicketVoided(Event):
    event_type = "TicketVoided"
    topic = topics.REDEMPTION_REDEMPTIONS

    ticket_id: str
    wallet_id: str
    campaign_id: str
    amount_cents: int
    voided_at: datetime


class TicketVoidRefused(Event):
    event_type = "TicketVoidRefused"
    topic = topics.REDEMPTION_REDEMPTIONS

    ticket_id: str
    wallet_id: str
    campaign_id: str
    reason_code: str
    reason: str
    redeemed_at: datetime | None = None


class TicketReplaced(Event):
    """The ticket's old code is refused from now on (TICKET_REPLACED); its new code is redeemable."""

    event_type = "TicketReplaced"
    topic = topics.REDEMPTION_REDEMPTIONS

    ticket_id: str
    wallet_id: str
    campaign_id: str
    replaced_at: datetime


class TicketReplaceRefused(Event):
    """The ticket was redeemed before its replacement: it stays redeemed, the old code stands."""

    event_type = "TicketReplaceRefused"
    topic = topics.REDEMPTION_REDEMPTIONS

    ticket_id: str
    wallet_id: str
    campaign_id: str
    reason_code: str
    reason: str
    redeemed_at: datetime | None = None
    affiliate_id: str | None = None
