"""Redemption: whether a ticket can be spent now, spending it once, undoing a mistake, voiding.

Pure rules: no I/O, no framework. The store answers the scanner from its own view of
every ticket; it spends a ticket with one conditional update that repeats the checks
of `check_redemption` in its WHERE clause, so the rule below and the database guard
agree, and only one request can ever win a ticket.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from carnet_contracts.calendar import end_of_paris_day
from carnet_contracts.display import day as format_day
from carnet_contracts.display import moment as format_moment
from carnet_runtime import Refusal

DEFAULT_CANCEL_GRACE_MINUTES = 30

# Stable refusal codes (API.md). The HTTP status of each is decided in one place, refusals.py.
CODE_MALFORMED = "CODE_MALFORMED"
TICKET_UNKNOWN = "TICKET_UNKNOWN"
TICKET_ALREADY_REDEEMED = "TICKET_ALREADY_REDEEMED"
TICKET_EXPIRED = "TICKET_EXPIRED"
TICKET_VOIDED = "TICKET_VOIDED"
TICKET_RESERVED_FOR_OTHER_AFFILIATE = "TICKET_RESERVED_FOR_OTHER_AFFILIATE"
AFFILIATE_NOT_ACTIVE = "AFFILIATE_NOT_ACTIVE"
IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
TOO_MANY_UNKNOWN_CODES = "TOO_MANY_UNKNOWN_CODES"
REDEMPTION_UNKNOWN = "REDEMPTION_UNKNOWN"
REDEMPTION_OF_OTHER_AFFILIATE = "REDEMPTION_OF_OTHER_AFFILIATE"
CANCEL_PERIOD_OVER = "CANCEL_PERIOD_OVER"
REDEMPTION_IN_REIMBURSEMENT_BATCH = "REDEMPTION_IN_REIMBURSEMENT_BATCH"
REDEMPTION_BUSY = "REDEMPTION_BUSY"


# The first instant a ticket is no longer valid; the wallet shows "expired" from the same instant.
validity_end = end_of_paris_day


class TicketStatus(StrEnum):
    REDEEMABLE = "redeemable"
    REDEEMED = "redeemed"
    VOIDED = "voided"


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


# --- refusals, each with what happened and what to do, in the words of the counter ---


def code_malformed(reason: str) -> Refusal:
    return Refusal(
        CODE_MALFORMED,
        "Ce code n'est pas un code de ticket valable : un caractère a sans doute été mal saisi. "
        "Vérifiez le code imprimé sous le code-barre et saisissez-le de nouveau, ou scannez le ticket.",
        {"fields": [{"field": "ticket_code", "problem": reason}]},
    )


def ticket_unknown() -> Refusal:
    return Refusal(
        TICKET_UNKNOWN,
        "Ce code ne correspond à aucun ticket du Pass. Vérifiez le code saisi ; s'il est exact, "
        "le ticket n'a pas été crédité par la famille et ne peut pas être encaissé.",
    )


def ticket_already_redeemed(ticket: Ticket, affiliate_id: str) -> Refusal:
    assert ticket.redeemed_at is not None
    by = "par votre organisme" if ticket.redeemed_by == affiliate_id else "par un autre organisme"
    return Refusal(
        TICKET_ALREADY_REDEEMED,
        f"Ce ticket a déjà été utilisé le {format_moment(ticket.redeemed_at)} {by}. "
        "Un ticket ne s'utilise qu'une fois : ne l'acceptez pas en paiement.",
        {"redeemed_at": ticket.redeemed_at.isoformat(), "redeemed_by_you": ticket.redeemed_by == affiliate_id},
    )


def ticket_expired(ticket: Ticket) -> Refusal:
    end = ticket.valid_through
    return Refusal(
        TICKET_EXPIRED,
        f"Ce ticket n'est plus valable depuis le {format_day(end.date())} : la validité du Pass "
        f"s'est terminée le {format_day(ticket.valid_until)}. Il ne peut plus être encaissé.",
        {"valid_until": ticket.valid_until.isoformat(), "expired_since": end.isoformat()},
    )


def ticket_voided() -> Refusal:
    return Refusal(
        TICKET_VOIDED,
        "Ce ticket a été annulé par la famille et n'a plus de valeur : ne l'acceptez pas. "
        "La famille peut présenter un autre ticket de son Pass.",
    )


def ticket_reserved_for_other_affiliate() -> Refusal:
    return Refusal(
        TICKET_RESERVED_FOR_OTHER_AFFILIATE,
        "La famille a réservé ce ticket à un autre organisme : vous ne pouvez pas l'encaisser. "
        "Elle peut changer l'organisme choisi depuis son espace Pass.",
    )


def affiliate_not_active() -> Refusal:
    return Refusal(
        AFFILIATE_NOT_ACTIVE,
        "Votre organisme ne peut pas encaisser de tickets : l'affiliation n'est pas active. "
        "Signez votre convention d'affiliation électronique, ou contactez le Département si votre compte a été suspendu.",
    )


def idempotency_key_reused() -> Refusal:
    return Refusal(
        IDEMPOTENCY_KEY_REUSED,
        "Cette demande reprend l'identifiant d'une demande précédente faite pour un autre ticket : "
        "rien n'a été encaissé. Scannez ou saisissez de nouveau le ticket.",
    )


def too_many_unknown_codes(wait: timedelta, now: datetime) -> Refusal:
    seconds = max(1, int(-(-wait.total_seconds() // 1)))
    return Refusal(
        TOO_MANY_UNKNOWN_CODES,
        "Trop de codes inconnus ont été saisis en peu de temps : les encaissements de votre organisme "
        f"sont suspendus jusqu'au {format_moment(now + timedelta(seconds=seconds))}. "
        "Vérifiez les tickets présentés, puis réessayez.",
        {"retry_after_seconds": seconds},
        retry_after=seconds,
    )


def redemption_busy() -> Refusal:
    """A request that lost its race more times than competitors can explain: let the scanner retry."""
    return Refusal(
        REDEMPTION_BUSY,
        "Le ticket est en cours de traitement par une autre demande : réessayez dans un instant.",
    )


def void_refused_spent(ticket: Ticket) -> Refusal:
    """Told to the family, whose void request came too late."""
    assert ticket.redeemed_at is not None
    return Refusal(
        TICKET_ALREADY_REDEEMED,
        f"Ce ticket a déjà été utilisé auprès d'un organisme le {format_moment(ticket.redeemed_at)} : "
        "il ne peut plus être annulé et son montant reste dépensé.",
        {"redeemed_at": ticket.redeemed_at.isoformat()},
    )


def redemption_unknown() -> Refusal:
    return Refusal(REDEMPTION_UNKNOWN, "Cet encaissement est introuvable : vérifiez sa référence.")


def redemption_of_other_affiliate() -> Refusal:
    return Refusal(
        REDEMPTION_OF_OTHER_AFFILIATE,
        "Cet encaissement a été fait par un autre organisme : seul l'organisme qui a encaissé le ticket peut l'annuler.",
    )


def cancel_period_over(redemption: Redemption, grace: timedelta) -> Refusal:
    minutes = int(grace.total_seconds() // 60)
    deadline = redemption.redeemed_at + grace
    return Refusal(
        CANCEL_PERIOD_OVER,
        f"Un encaissement s'annule dans les {minutes} minutes ; celui-ci ne pouvait plus l'être après le "
        f"{format_moment(deadline)}. Contactez le Département si le ticket a été encaissé par erreur.",
        {"redeemed_at": redemption.redeemed_at.isoformat(), "cancellable_until": deadline.isoformat()},
    )


def redemption_in_reimbursement_batch() -> Refusal:
    return Refusal(
        REDEMPTION_IN_REIMBURSEMENT_BATCH,
        "Cet encaissement fait déjà partie d'un remboursement : il ne peut plus être annulé. "
        "Contactez le Département si le ticket a été encaissé par erreur.",
    )


# --- decisions and transitions ---


def check_redemption(
    ticket: Ticket | None,
    affiliate: Affiliate | None,
    affiliate_id: str,
    now: datetime,
    limit: GuessingLimit,
) -> Ticket:
    """What redeeming would do now: the ticket that would be spent, or the Refusal raised.

    The affiliate comes first: one that may not redeem, or is throttled for guessing,
    learns nothing about the ticket.
    """
    if affiliate is None or not affiliate.active:
        raise affiliate_not_active()
    wait = limit.retry_after(affiliate.unknown_codes_tat, now)
    if wait is not None:
        raise too_many_unknown_codes(wait, now)
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


def cancel(redemption: Redemption, ticket: Ticket, now: datetime) -> tuple[Redemption, Ticket]:
    """Undo a mistaken redemption that `check_cancel` allowed: the ticket is redeemable again."""
    cancelled = replace(redemption, status=RedemptionStatus.CANCELLED, cancelled_at=now)
    if ticket.redemption_id != redemption.redemption_id:
        return cancelled, ticket
    restored = replace(
        ticket, status=TicketStatus.REDEEMABLE, redemption_id=None, redeemed_at=None, redeemed_by=None
    )
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
