"""Events of the wallet service: wallets and tickets."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from .. import topics
from ..envelope import Event

# --- wallet.wallets --------------------------------------------------------------------


class WalletCreated(Event):
    event_type = "WalletCreated"
    topic = topics.WALLET_WALLETS

    wallet_id: str
    application_id: str
    campaign_id: str
    family_sub: str | None = None
    ticket_count: int
    allowance_cents: int
    valid_until: date
    student_first_name: str
    guardian_email: str
    created_at: datetime


class TicketsEmailRequested(Event):
    """The family asked for its tickets by e-mail. No code: the sheet is fetched from the wallet."""

    event_type = "TicketsEmailRequested"
    topic = topics.WALLET_WALLETS

    request_id: str
    wallet_id: str
    campaign_id: str
    positions: list[int]
    guardian_email: str
    student_first_name: str
    requested_at: datetime
    # "replaced": the new sheet after a lost ticket was replaced, sent without the family asking.
    reason: Literal["requested", "replaced"] = "requested"


class PassExpiryReminderDue(Event):
    """The pass ends soon and money is still on it: the family is reminded, once."""

    event_type = "PassExpiryReminderDue"
    topic = topics.WALLET_WALLETS

    wallet_id: str
    campaign_id: str
    guardian_email: str
    student_first_name: str
    valid_until: date
    credited_unspent_cents: int
    remaining_cents: int
    due_at: datetime


# --- wallet.tickets --------------------------------------------------------------------


class TicketCredited(Event):
    """A blank ticket was credited. The code itself never travels: its keyed hash does."""

    event_type = "TicketCredited"
    topic = topics.WALLET_TICKETS

    ticket_id: str
    wallet_id: str
    campaign_id: str
    position: int
    code_hash: str
    code_suffix: str
    amount_cents: int
    affiliate_id: str | None = None
    valid_until: date
    credited_at: datetime


class TicketAssigned(Event):
    """A credited ticket was assigned to an affiliate, or back to none (affiliate_id null)."""

    event_type = "TicketAssigned"
    topic = topics.WALLET_TICKETS

    ticket_id: str
    wallet_id: str
    campaign_id: str
    affiliate_id: str | None = None
    code_suffix: str
    amount_cents: int
    assigned_at: datetime


class TicketVoidRequested(Event):
    """The family asked to void a credited ticket; the redemption service decides."""

    event_type = "TicketVoidRequested"
    topic = topics.WALLET_TICKETS

    ticket_id: str
    wallet_id: str
    campaign_id: str
    requested_at: datetime


class TicketReplaceRequested(Event):
    """A credited ticket was declared lost or stolen: the redemption service revokes its code for the
    new one (keyed hash only) unless it was redeemed meanwhile, and answers TicketReplaced or
    TicketReplaceRefused."""

    event_type = "TicketReplaceRequested"
    topic = topics.WALLET_TICKETS

    ticket_id: str
    wallet_id: str
    campaign_id: str
    new_code_hash: str
    new_code_suffix: str
    requested_at: datetime
