"""Redemption: whether a ticket can be spent now, spending it once, undoing a mistake, voiding,
replacing a lost ticket's code.

Pure rules: no I/O, no framework. The store answers the scanner from its own view of
every ticket; it spends a ticket with one conditional update that repeats the checks
of `check_redemption` in its WHERE clause, so the rule below and the database guard
agree, and only one request can ever win a ticket. The refusals, with their French
sentences, are in messages.py (and are names of this module too: `domain.ticket_voided()`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from carnet_contracts.calendar import end_of_paris_day
from carnet_contracts.display import moment as format_moment
from carnet_runtime import Refusal

from .messages import *  # noqa: F403  (every code and refusal, names of the domain too)

DEFAULT_CANCEL_GRACE_MINUTES = 30


# The first instant a ticket is no longer valid; the wallet shows "expired" from the same instant.
validity_end = end_of_paris_day


class TicketStatus(StrEnum):
    REDEEMABLE = "redeemable"
    REDEEMED = "redeemed"
    VOIDED = "voided"


class Retired(StrEnum):
    """Why a code was retired for ever: its ticket was voided, or it was replaced by a new code
    (the ticket was declared lost or stolen)."""

    VOIDED = "voided"
    REPLACED = "replaced"


class Then(StrEnum):
    """What a ticket becomes when its redemption is cancelled."""

    REDEEMABLE = "redeemable"
    VOID = "void"


class CancelledBy(StrEnum):
    AFFILIATE = "affiliate"
    ADMIN = "admin"


@dataclass(frozen=True)
class Ticket:
    """This service's view of a credited ticket, fed by the wallet's events.

    Expiry is not a status: a redeemable ticket past its validity end is expired.
    """

    ticket_id: str
    wallet_id: str
    campaign_id: str
    amount_cents: int
    valid_until: date
    reserved_for: str | None = None
    status: TicketStatus = TicketStatus.REDEEMABLE
    redemption_id: str | None = None
    redeemed_at: datetime | None = None
    redeemed_by: str | None = None

    @property
    def valid_through(self) -> datetime:
        return validity_end(self.valid_until)

    def is_expired(self, now: datetime) -> bool:
        return now >= self.valid_through


@dataclass(frozen=True)
class Affiliate:
    """An organisation as redemption needs it: may it redeem, and its unknown-code pace."""

    affiliate_id: str
    active: bool
    # Theoretical arrival time of the guessing limiter (see GuessingLimit); None: never throttled.
    unknown_codes_tat: datetime | None = None


@dataclass(frozen=True)
class Campaign:
    """The campaign as redemption needs it: how long after a redemption the counter may cancel it."""

    campaign_id: str
    redemption_cancel_grace_minutes: int = DEFAULT_CANCEL_GRACE_MINUTES

    @property
    def cancel_grace(self) -> timedelta:
        return timedelta(minutes=self.redemption_cancel_grace_minutes)


def cancel_grace(campaign: Campaign | None) -> timedelta:
    return (campaign or Campaign(campaign_id="")).cancel_grace


class RedemptionStatus(StrEnum):
    ACTIVE = "active"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class Redemption:
    redemption_id: str
    ticket_id: str
    wallet_id: str
    campaign_id: str
    affiliate_id: str
    amount_cents: int
    redeemed_at: datetime
    status: RedemptionStatus = RedemptionStatus.ACTIVE
    cancelled_at: datetime | None = None
    batch_id: str | None = None
    # Who cancelled it (the affiliate's id, or the admin's account), why, and what the ticket became.
    cancelled_by_role: CancelledBy | None = None
    cancelled_by: str | None = None
    cancel_reason: str | None = None
    cancel_then: Then | None = None

    def answer(self) -> dict[str, Any]:
        """The 201 body of API.md, also what a retry with the same key gets back."""
        return {
            "redemption_id": self.redemption_id,
            "ticket_id": self.ticket_id,
            "amount_cents": self.amount_cents,
            "affiliate_id": self.affiliate_id,
            "redeemed_at": self.redeemed_at.isoformat(),
        }


@dataclass(frozen=True)
class GuessingLimit:
    """At most `max_unknown_codes` unknown codes per affiliate in a burst, then one per interval.

    A generic cell rate algorithm: one timestamp per affiliate (the theoretical arrival
    time, TAT) moves `interval` ahead with each unknown code. Throttled while the TAT is
    more than `window - interval` ahead of now. While throttled, every code of that
    affiliate is refused unread, so a guesser learns nothing more, however lucky.
    """

    max_unknown_codes: int = 10
    window: timedelta = timedelta(minutes=10)

    def __post_init__(self) -> None:
        if self.max_unknown_codes < 1 or self.window <= timedelta(0):
            raise ValueError("a guessing limit needs at least one code and a positive window")

    @property
    def interval(self) -> timedelta:
        return self.window / self.max_unknown_codes

    def after_unknown_code(self, tat: datetime | None, now: datetime) -> datetime:
        start = now if tat is None or tat < now else tat
        return start + self.interval

    def retry_after(self, tat: datetime | None, now: datetime) -> timedelta | None:
        """How long the affiliate must wait, or None when not throttled."""
        if tat is None:
            return None
        wait = tat - (self.window - self.interval) - now
        return wait if wait > timedelta(0) else None


# --- decisions and transitions ---


def retired_code(reason: Retired) -> Refusal:
    """What a retired code answers for ever."""
    return ticket_replaced() if reason is Retired.REPLACED else ticket_voided()


def check_redemption(
    ticket: Ticket | None,
    affiliate: Affiliate | None,
    affiliate_id: str,
    now: datetime,
    limit: GuessingLimit,
    retired: Retired | None = None,
) -> Ticket:
    """What redeeming would do now: the ticket that would be spent, or the Refusal raised.
    `retired`: the code was retired (voided or replaced), whatever its ticket became since.

    The affiliate comes first: one that may not redeem, or is throttled for guessing,
    learns nothing about the ticket.
    """
    if affiliate is None or not affiliate.active:
        raise affiliate_not_active()
    wait = limit.retry_after(affiliate.unknown_codes_tat, now)
    if wait is not None:
        raise too_many_unknown_codes(wait, now)
    if retired is not None:
        raise retired_code(retired)
    if ticket is None:
        raise ticket_unknown()
    if ticket.status is TicketStatus.REDEEMED:
        raise ticket_already_redeemed(ticket, affiliate_id)
    if ticket.status is TicketStatus.VOIDED:
        raise ticket_voided()
    if ticket.is_expired(now):
        raise ticket_expired(ticket)
    if ticket.reserved_for is not None and ticket.reserved_for != affiliate_id:
        raise ticket_reserved_for_other_affiliate()
    return ticket


def check_same_request(stored_fingerprint: str, fingerprint: str) -> None:
    """A key already used answers only the request it was first used for."""
    if stored_fingerprint != fingerprint:
        raise idempotency_key_reused()


def redeem(ticket: Ticket, affiliate_id: str, redemption_id: str, now: datetime) -> tuple[Ticket, Redemption]:
    """Spend a ticket that `check_redemption` accepted."""
    redemption = Redemption(
        redemption_id=redemption_id,
        ticket_id=ticket.ticket_id,
        wallet_id=ticket.wallet_id,
        campaign_id=ticket.campaign_id,
        affiliate_id=affiliate_id,
        amount_cents=ticket.amount_cents,
        redeemed_at=now,
    )
    spent = replace(
        ticket,
        status=TicketStatus.REDEEMED,
        redemption_id=redemption_id,
        redeemed_at=now,
        redeemed_by=affiliate_id,
    )
    return spent, redemption


def check_cancel(redemption: Redemption | None, affiliate_id: str, grace: timedelta, now: datetime) -> bool:
    """May this affiliate cancel this redemption now? False: it is already cancelled (nothing to do)."""
    if redemption is None:
        raise redemption_unknown()
    if redemption.affiliate_id != affiliate_id:
        raise redemption_of_other_affiliate()
    if redemption.status is RedemptionStatus.CANCELLED:
        return False
    if redemption.batch_id is not None:
        raise redemption_in_reimbursement_batch()
    if now >= redemption.redeemed_at + grace:
        raise cancel_period_over(redemption, grace)
    return True


def check_late_correction(redemption: Redemption | None) -> bool:
    """May the admin cancel this redemption (at any time, until a reimbursement batch holds it)?
    False: it is already cancelled (nothing to do)."""
    if redemption is None:
        raise redemption_unknown()
    if redemption.status is RedemptionStatus.CANCELLED:
        return False
    if redemption.batch_id is not None:
        raise redemption_in_reimbursement_batch()
    return True


def cancel(
    redemption: Redemption,
    ticket: Ticket,
    now: datetime,
    *,
    by_role: CancelledBy = CancelledBy.AFFILIATE,
    by: str | None = None,
    reason: str | None = None,
    then: Then = Then.REDEEMABLE,
) -> tuple[Redemption, Ticket]:
    """Undo a redemption that `check_cancel` (the affiliate's) or `check_late_correction` (the admin's)
    allowed: the ticket is redeemable again, or voided (its code then retired by the store)."""
    cancelled = replace(
        redemption, status=RedemptionStatus.CANCELLED, cancelled_at=now, cancelled_by_role=by_role,
        cancelled_by=by if by is not None else redemption.affiliate_id, cancel_reason=reason, cancel_then=then,
    )
    if ticket.redemption_id != redemption.redemption_id:
        return cancelled, ticket
    status = TicketStatus.VOIDED if then is Then.VOID else TicketStatus.REDEEMABLE
    restored = replace(ticket, status=status, redemption_id=None, redeemed_at=None, redeemed_by=None)
    return cancelled, restored


@dataclass(frozen=True)
class VoidDecision:
    """The answer to the wallet's void request; `refusal` is None when the ticket is voided."""

    ticket: Ticket | None
    refusal: Refusal | None = None

    @property
    def voided(self) -> bool:
        return self.refusal is None


def void(ticket: Ticket | None) -> VoidDecision:
    """Voided if not spent (an unknown ticket holds nothing to spend), refused with the reason if spent."""
    if ticket is None:
        return VoidDecision(None)
    if ticket.status is TicketStatus.REDEEMED:
        return VoidDecision(ticket, void_refused_spent(ticket))
    return VoidDecision(replace(ticket, status=TicketStatus.VOIDED))


def apply_credited(existing: Ticket | None, credited: Ticket) -> Ticket:
    """A credit from the wallet. A spent ticket stays spent: this service alone decides that."""
    if existing is not None and existing.status is TicketStatus.REDEEMED:
        return existing
    return credited


def apply_assigned(ticket: Ticket, affiliate_id: str | None) -> Ticket:
    return replace(ticket, reserved_for=affiliate_id)


def lock_in_batch(redemption: Redemption, batch_id: str) -> Redemption:
    return replace(redemption, batch_id=batch_id)


def replace_refused(ticket: Ticket | None) -> Refusal:
    """Why a replacement could not revoke the ticket's code: told to the family (it was redeemed
    meanwhile), or, should the wallet ask for a ticket it is not, why."""
    if ticket is None:
        return ticket_unknown()
    if ticket.status is TicketStatus.VOIDED:
        return ticket_voided()
    assert ticket.status is TicketStatus.REDEEMED and ticket.redeemed_at is not None
    return Refusal(
        TICKET_ALREADY_REDEEMED,
        f"Ce ticket a été utilisé auprès d'un organisme le {format_moment(ticket.redeemed_at)}, avant que "
        "son remplacement ne soit enregistré : il ne peut plus être remplacé et son montant reste dépensé.",
        {"redeemed_at": ticket.redeemed_at.isoformat()},
    )
