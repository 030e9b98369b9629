"""Statements and reimbursement batches: which redeemed tickets are paid, to whom, how much."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from carnet_runtime import Refusal, field_errors

PARIS = ZoneInfo("Europe/Paris")


class LineStatus(StrEnum):
    PENDING = "pending"  # redeemed, not yet in a batch
    BATCHED = "batched"  # in a batch not yet paid
    PAID = "paid"  # reimbursed
    CANCELLED = "cancelled"  # the redemption was cancelled


@dataclass(frozen=True)
class StatementLine:
    """One redeemed ticket as the organisation's statement shows it."""

    redemption_id: str
    affiliate_id: str
    campaign_id: str
    ticket_id: str
    amount_cents: int
    redeemed_at: datetime
    status: LineStatus


@dataclass(frozen=True)
class Campaign:
    """This service's copy of a campaign (from CampaignPublished)."""

    campaign_id: str
    label: str
    enrolment_opens: date
    pass_valid_until: date
    reimbursement_deadline: date
    redemption_cancel_grace_minutes: int

    @property
    def terms(self) -> CampaignTerms:
        return CampaignTerms(self.campaign_id, self.label, self.reimbursement_deadline,
                             self.redemption_cancel_grace_minutes)


def unknown_campaign(campaign_id: str) -> Refusal:
    return Refusal(
        "UNKNOWN_CAMPAIGN", "Cette campagne n'est pas connue du service d'affiliation.", {"campaign_id": campaign_id}
    )


@dataclass(frozen=True)
class CampaignTerms:
    campaign_id: str
    label: str
    reimbursement_deadline: date
    redemption_cancel_grace_minutes: int

    def reimbursement_cutoff(self) -> datetime:
        """The end of the deadline's Paris day: a ticket redeemed that day is still reimbursed."""
        next_day = self.reimbursement_deadline + timedelta(days=1)
        return datetime.combine(next_day, time(0), tzinfo=PARIS)


@dataclass(frozen=True)
class Payee:
    affiliate_id: str
    name: str
    siret: str
    iban: str
    bic: str | None


@dataclass(frozen=True)
class Transfer:
    """One credit transfer: everything a batch pays one organisation."""

    payee: Payee
    amount_cents: int
    redemption_ids: tuple[str, ...]


@dataclass(frozen=True)
class BatchPlan:
    campaign_id: str
    transfers: tuple[Transfer, ...]

    @property
    def total_cents(self) -> int:
        return sum(t.amount_cents for t in self.transfers)

    @property
    def count(self) -> int:
        return sum(len(t.redemption_ids) for t in self.transfers)

    @property
    def redemption_ids(self) -> list[str]:
        return [r for t in self.transfers for r in t.redemption_ids]


def is_reimbursable(line: StatementLine, terms: CampaignTerms, now: datetime) -> bool:
    """Pending, redeemed by the deadline, and past the time its redemption could still be cancelled."""
    return (
        line.status is LineStatus.PENDING
        and line.campaign_id == terms.campaign_id
        and line.redeemed_at < terms.reimbursement_cutoff()
        and line.redeemed_at + timedelta(minutes=terms.redemption_cancel_grace_minutes) <= now
    )


def plan_batch(
    lines: list[StatementLine], terms: CampaignTerms, payees: dict[str, Payee], now: datetime
) -> BatchPlan:
    """One transfer per organisation over every reimbursable line, or NOTHING_TO_REIMBURSE.

    Lines of an organisation without a payee are left pending; the caller reports them.
    """
    by_affiliate: dict[str, list[StatementLine]] = defaultdict(list)
    for line in lines:
        # a redemption by an organisation unknown here cannot be paid: no bank account to pay it to
        if line.affiliate_id in payees and is_reimbursable(line, terms, now):
            by_affiliate[line.affiliate_id].append(line)
    transfers = tuple(
        Transfer(
            payee=payees[affiliate_id],
            amount_cents=sum(line.amount_cents for line in group),
            redemption_ids=tuple(sorted(line.redemption_id for line in group)),
        )
        for affiliate_id, group in sorted(by_affiliate.items(), key=lambda item: payees[item[0]].name)
    )
    if not transfers:
        raise Refusal(
            "NOTHING_TO_REIMBURSE",
            "Aucun ticket encaissé n'est en attente de remboursement pour cette campagne.",
            {"campaign_id": terms.campaign_id},
        )
    return BatchPlan(campaign_id=terms.campaign_id, transfers=transfers)


@dataclass(frozen=True)
class StatementTotals:
    count: int
    redeemed_cents: int
    reimbursed_cents: int
    in_payment_cents: int
    pending_cents: int


def statement_totals(lines: list[StatementLine]) -> StatementTotals:
    """Cancelled redemptions count for nothing; the rest is reimbursed, in a batch, or pending."""
    def total(*statuses: LineStatus) -> int:
        return sum(line.amount_cents for line in lines if line.status in statuses)

    live = [line for line in lines if line.status is not LineStatus.CANCELLED]
    return StatementTotals(
        count=len(live),
        redeemed_cents=total(LineStatus.PENDING, LineStatus.BATCHED, LineStatus.PAID),
        reimbursed_cents=total(LineStatus.PAID),
        in_payment_cents=total(LineStatus.BATCHED),
        pending_cents=total(LineStatus.PENDING),
    )


class BatchStatus(StrEnum):
    CREATED = "created"
    PAID = "paid"


@dataclass(frozen=True)
class PaidTransfer:
    """A transfer as a stored batch keeps it: to whom (at the time), how much, under which reference."""

    affiliate_id: str
    name: str
    iban: str
    amount_cents: int
    count: int
    end_to_end_id: str
    contact_email: str | None = None  # the organisation's contact today, when read back


@dataclass(frozen=True)
class Batch:
    batch_id: str
    campaign_id: str
    status: BatchStatus
    total_cents: int
    count: int
    execution_date: date
    created_at: datetime
    paid_at: datetime | None
    transfers: tuple[PaidTransfer, ...]


@dataclass(frozen=True)
class BatchFiles:
    """A batch's two files: the SEPA transfer order for the bank and the CSV for the accountant."""

    sepa_xml: bytes
    transfers_csv: str


def batch_not_found() -> Refusal:
    return Refusal("BATCH_NOT_FOUND", "Ce lot de remboursement n'existe pas.")


def execution_date(requested: date | None, today: date, delay_days: int) -> date:
    """The day the transfers are asked for: the one requested (not in the past), or in `delay_days`."""
    if requested is None:
        return today + timedelta(days=delay_days)
    if requested < today:
        raise Refusal(
            "VALIDATION_ERROR",
            "La date d'exécution des virements ne peut pas être dans le passé.",
            field_errors({"execution_date": "in the past"}),
        )
    return requested


def only_campaign_waiting(waiting: list[str]) -> str:
    """A batch may leave out its campaign while only one campaign has redemptions waiting."""
    if not waiting:
        raise Refusal(
            "NOTHING_TO_REIMBURSE", "Aucun ticket encaissé n'est en attente de remboursement.", {"campaign_id": None}
        )
    if len(waiting) > 1:
        raise Refusal(
            "CAMPAIGN_REQUIRED",
            "Des tickets de plusieurs campagnes attendent leur remboursement : précisez la campagne.",
            field_errors({"campaign_id": "required"}) | {"campaign_ids": waiting},
        )
    return waiting[0]


@dataclass(frozen=True)
class AssignedTicket:
    """A ticket a family assigned to an organisation (from the wallet's events)."""

    ticket_id: str
    affiliate_id: str
    wallet_id: str | None  # until the campaign's purge or the family's erasure
    campaign_id: str
    code_suffix: str
    amount_cents: int
    valid_until: date | None
    assigned_at: datetime
    redeemed_at: datetime | None = None  # when it was redeemed (and the redemption not cancelled)


def mark_paid(status: BatchStatus) -> BatchStatus:
    if status is BatchStatus.PAID:
        raise Refusal(
            "BATCH_ALREADY_PAID",
            "Ce lot de remboursement est déjà marqué comme payé.",
            {"status": status.value},
        )
    return BatchStatus.PAID
