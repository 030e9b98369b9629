"""Events of the redemption service: redemptions, voids and replacements at the counter's side."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from .. import topics
from ..envelope import Event

# --- redemption.redemptions --------------------------------------------------------------


class _Redemption(Event):
    """What a redemption and its cancellation both say of it (the fields lead in both, in this order)."""

    redemption_id: str
    ticket_id: str
    wallet_id: str
    campaign_id: str
    affiliate_id: str
    amount_cents: int


class _TicketFact(Event):
    """The ticket a void or a replacement at the counter's side is about."""

    ticket_id: str
    wallet_id: str
    campaign_id: str


class _TicketRefusal(_TicketFact):
    """A void or a replacement the ticket's state refused."""

    reason_code: str
    reason: str
    redeemed_at: datetime | None = None


class TicketRedeemed(_Redemption):
    event_type = "TicketRedeemed"
    topic = topics.REDEMPTION_REDEMPTIONS

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


class RedemptionCancelled(_Redemption):
    event_type = "RedemptionCancelled"
    topic = topics.REDEMPTION_REDEMPTIONS

    cancelled_at: datetime
    # Who undid it: the affiliate within the grace period, or the admin later, with a reason.
    cancelled_by_role: Literal["affiliate", "admin"] = "affiliate"
    reason: str | None = None
    # What the ticket became: redeemable again, or voided (then TicketVoided follows).
    then: Literal["redeemable", "void"] = "redeemable"


class TicketVoided(_TicketFact):
    event_type = "TicketVoided"
    topic = topics.REDEMPTION_REDEMPTIONS

    amount_cents: int
    voided_at: datetime


class TicketVoidRefused(_TicketRefusal):
    event_type = "TicketVoidRefused"
    topic = topics.REDEMPTION_REDEMPTIONS


class TicketReplaced(_TicketFact):
    """The ticket's old code is refused from now on (TICKET_REPLACED); its new code is redeemable."""

    event_type = "TicketReplaced"
    topic = topics.REDEMPTION_REDEMPTIONS

    replaced_at: datetime


class TicketReplaceRefused(_TicketRefusal):
    """The ticket was redeemed before its replacement: it stays redeemed, the old code stands."""

    event_type = "TicketReplaceRefused"
    topic = topics.REDEMPTION_REDEMPTIONS

    affiliate_id: str | None = None
