"""A campaign's figures as the département reads them: what is reimbursed (in paid batches), in
payment (in batches not yet paid), pending (redeemed, in no batch yet), per organisation and in all.

Every redemption not cancelled is in exactly one of the three, so redeemed = pending + in payment +
reimbursed, cent for cent, overall and for each organisation.
"""

from __future__ import annotations

import functools
import operator
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Amount:
    count: int = 0
    cents: int = 0

    def __add__(self, other: Amount) -> Amount:
        return Amount(self.count + other.count, self.cents + other.cents)


def total(amounts: list[Amount]) -> Amount:
    return functools.reduce(operator.add, amounts, Amount())


@dataclass(frozen=True)
class AffiliateFigures:
    """One organisation's share (name and status None for an organisation this service does not know)."""

    affiliate_id: str
    name: str | None
    status: str | None
    created_at: datetime | None
    pending: Amount = Amount()
    in_payment: Amount = Amount()
    reimbursed: Amount = Amount()
    cancelled: Amount = Amount()

    @property
    def redeemed(self) -> Amount:
        return self.pending + self.in_payment + self.reimbursed


def _summed(part: str) -> property:
    """One part of every organisation's share, added up."""
    return property(lambda self: total([getattr(a, part) for a in self.by_affiliate]))


@dataclass(frozen=True)
class CampaignFigures:
    campaign_id: str | None  # None: every campaign
    by_affiliate: tuple[AffiliateFigures, ...]
    batches_in_payment: int  # created, not yet paid
    batches_paid: int
    affiliates_by_status: dict[str, int]

    pending = _summed("pending")
    in_payment = _summed("in_payment")
    reimbursed = _summed("reimbursed")
    cancelled = _summed("cancelled")

    @property
    def redeemed(self) -> Amount:
        return self.pending + self.in_payment + self.reimbursed


def campaign_figures(
    campaign_id: str | None,
    known: list[AffiliateFigures],
    amounts: dict[str, dict[str, Amount]],
    batches: dict[str, int],
    affiliates_by_status: dict[str, int],
) -> CampaignFigures:
    """`known`: the organisations shown (active, suspended, and any other that redeemed); `amounts`:
    per organisation, per statement line status (pending, batched, paid, cancelled). A line of an
    organisation this service does not know still counts, under its id alone."""
    by_id = {a.affiliate_id: a for a in known}
    for affiliate_id in amounts.keys() - by_id.keys():
        by_id[affiliate_id] = AffiliateFigures(affiliate_id, None, None, None)
    rows = []
    for affiliate_id, figures in sorted(by_id.items(), key=lambda item: (item[1].name is None, item[1].name or "",
                                                                         item[0])):
        of = amounts.get(affiliate_id, {})
        rows.append(AffiliateFigures(
            affiliate_id, figures.name, figures.status, figures.created_at,
            pending=of.get("pending", Amount()), in_payment=of.get("batched", Amount()),
            reimbursed=of.get("paid", Amount()), cancelled=of.get("cancelled", Amount()),
        ))
    return CampaignFigures(
        campaign_id=campaign_id,
        by_affiliate=tuple(rows),
        batches_in_payment=batches.get("created", 0),
        batches_paid=batches.get("paid", 0),
        affiliates_by_status=dict(sorted(affiliates_by_status.items())),
    )
