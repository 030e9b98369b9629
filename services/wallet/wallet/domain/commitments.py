"""The money the département is committed to, as of a day (Europe/Paris): pure arithmetic on the
tickets that hold an amount, so that every cent credited by then is in exactly one of
outstanding (not redeemed, still valid), expired unspent, or redeemed.

The figures read the tickets as they are now: a ticket redeemed after `as_of` was still
outstanding then; one credited after `as_of` was not credited yet. A ticket voided since is blank
and no longer counted (its amount went back to the allowance).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

from carnet_contracts.calendar import end_of_paris_day


def cutoff(as_of: date) -> datetime:
    """The end of `as_of` in Paris: what happened before it happened "by" that day."""
    return end_of_paris_day(as_of)


@dataclass(frozen=True)
class HeldGroup:
    """Tickets holding an amount, grouped as the store counts them."""

    valid_until: date
    credited_by_cutoff: bool
    redeemed_by_cutoff: bool
    cents: int
    tickets: int

    @classmethod
    def of_ticket(cls, amount_cents: int, valid_until: date, credited_at: datetime,
                  redeemed_at: datetime | None, as_of: date) -> HeldGroup:
        """One ticket as its own group (the store's SQL groups the same way)."""
        end = cutoff(as_of)
        return cls(valid_until, credited_at < end, redeemed_at is not None and redeemed_at < end, amount_cents, 1)


@dataclass(frozen=True)
class ValidityShare:
    valid_until: date
    cents: int
    tickets: int


@dataclass
class Commitments:
    as_of: date
    outstanding_cents: int = 0
    outstanding_tickets: int = 0
    expired_unspent_cents: int = 0
    expired_unspent_tickets: int = 0
    redeemed_cents: int = 0
    redeemed_tickets: int = 0
    by_valid_until: list[ValidityShare] = field(default_factory=list)

    @property
    def credited_cents(self) -> int:
        """Credited by the end of `as_of`: the three parts, cent for cent."""
        return self.outstanding_cents + self.expired_unspent_cents + self.redeemed_cents


def commitments(groups: Iterable[HeldGroup], as_of: date) -> Commitments:
    """Split what was credited by the end of `as_of` into outstanding, expired unspent and redeemed.

    A pass valid until day D can be spent through D (Paris): on D it is outstanding, from D + 1
    expired."""
    found = Commitments(as_of=as_of)
    shares: dict[date, list[int]] = {}
    for group in groups:
        if not group.credited_by_cutoff:
            continue
        if group.redeemed_by_cutoff:
            found.redeemed_cents += group.cents
            found.redeemed_tickets += group.tickets
        elif group.valid_until < as_of:
            found.expired_unspent_cents += group.cents
            found.expired_unspent_tickets += group.tickets
        else:
            found.outstanding_cents += group.cents
            found.outstanding_tickets += group.tickets
            share = shares.setdefault(group.valid_until, [0, 0])
            share[0] += group.cents
            share[1] += group.tickets
    found.by_valid_until = [ValidityShare(day, cents, tickets) for day, (cents, tickets) in sorted(shares.items())]
    return found
