"""The Pass's electronic wallet (porte-monnaie électronique) and its tickets.

Pure rules: no I/O, no framework. The store loads a Wallet under a row lock, calls one
method here, and writes back what changed, so every rule below also holds when two
requests on the same wallet race each other.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from uuid import UUID

from carnet_contracts.calendar import end_of_paris_day
from carnet_contracts.display import day as format_day
from carnet_contracts.display import euros as format_euros
from carnet_runtime.errors import Refusal

MAX_TICKETS_PER_SHEET = 7


class TicketStatus(StrEnum):
    BLANK = "blank"
    CREDITED = "credited"
    REDEEMED = "redeemed"
    VOID_PENDING = "void_pending"
    VOIDED = "voided"
    # Never stored: how a blank or credited ticket is shown once the pass's validity has ended.
    EXPIRED = "expired"


# A voided ticket gives its amount back to the allowance; every other credited state holds it.
_HOLDS_AMOUNT = frozenset({TicketStatus.CREDITED, TicketStatus.REDEEMED, TicketStatus.VOID_PENDING})


# The redemption service refuses an expired ticket from the same instant (shared rule).
validity_end = end_of_paris_day


@dataclass(frozen=True)
class CampaignTerms:
    """What the campaign set for this pass when it was granted."""

    campaign_id: str
    label: str
    allowance_cents: int
    tickets_per_pass: int
    ticket_min_cents: int
    ticket_max_cents: int
    pass_valid_until: date

    def __post_init__(self) -> None:
        if not (0 < self.ticket_min_cents <= self.ticket_max_cents):
            raise ValueError("ticket bounds must satisfy 0 < min <= max")
        if self.allowance_cents < 0 or self.tickets_per_pass < 1:
            raise ValueError("a pass needs a non-negative allowance and at least one ticket")


@dataclass(frozen=True)
class Student:
    last_name: str
    first_name: str
    level: str | None = None

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


@dataclass(frozen=True)
class Affiliate:
    """The wallet's copy of an affiliate, kept from the affiliation service's events."""

    affiliate_id: str
    name: str
    active: bool


@dataclass
class Ticket:
    ticket_id: UUID
    position: int
    status: TicketStatus = TicketStatus.BLANK
    amount_cents: int | None = None
    code: str | None = None
    affiliate_id: str | None = None
    credited_at: datetime | None = None
    redeemed_at: datetime | None = None
    void_refusal_reason: str | None = None

    @property
    def holds_amount(self) -> bool:
        return self.status in _HOLDS_AMOUNT

    def status_at(self, now: datetime, valid_until: date) -> TicketStatus:
        if self.status in (TicketStatus.BLANK, TicketStatus.CREDITED) and now >= validity_end(valid_until):
            return TicketStatus.EXPIRED
        return self.status


@dataclass
class Wallet:
    wallet_id: UUID
    application_id: str
    school_id: str
    owner_sub: str | None
    guardian_email: str
    student: Student
    terms: CampaignTerms
    tickets: list[Ticket] = field(default_factory=list)

    @classmethod
    def open(
        cls,
        *,
        application_id: str,
        school_id: str,
        owner_sub: str | None,
        guardian_email: str,
        student: Student,
        terms: CampaignTerms,
        wallet_id: UUID | None = None,
    ) -> Wallet:
        """A new wallet with the campaign's number of blank tickets, at positions 1..N."""
        tickets = [Ticket(ticket_id=uuid.uuid4(), position=p) for p in range(1, terms.tickets_per_pass + 1)]
        return cls(
            wallet_id=wallet_id or uuid.uuid4(),
            application_id=application_id,
            school_id=school_id,
            owner_sub=owner_sub,
            guardian_email=guardian_email,
            student=student,
            terms=terms,
            tickets=tickets,
        )

    # -- figures ---------------------------------------------------------------------------------

    @property
    def allowance_cents(self) -> int:
        return self.terms.allowance_cents

    @property
    def credited_cents(self) -> int:
        return sum(t.amount_cents or 0 for t in self.tickets if t.holds_amount)

    @property
    def remaining_cents(self) -> int:
        return self.allowance_cents - self.credited_cents

    @property
    def valid_until(self) -> date:
        return self.terms.pass_valid_until

    def is_expired(self, now: datetime) -> bool:
        return now >= validity_end(self.valid_until)

    def ticket(self, ticket_id: UUID) -> Ticket:
        for ticket in self.tickets:
            if ticket.ticket_id == ticket_id:
                return ticket
        raise Refusal("TICKET_UNKNOWN", "Ce ticket n'existe pas dans ce porte-monnaie électronique.",
                      {"ticket_id": str(ticket_id)})

    def find_ticket(self, ticket_id: UUID) -> Ticket | None:
        return next((t for t in self.tickets if t.ticket_id == ticket_id), None)

    # -- what the family does --------------------------------------------------------------------

    def credit(
        self,
        ticket_id: UUID,
        amount_cents: int,
        *,
        code: str,
        now: datetime,
        affiliate_id: str | None = None,
        known_affiliates: Mapping[str, Affiliate] | None = None,
    ) -> Ticket:
        """Put a sum on a blank ticket, which gets its code; optionally reserve it for one affiliate."""
        ticket = self.ticket(ticket_id)
        self._refuse_if_expired(now, "créditer un ticket")
        if ticket.status is not TicketStatus.BLANK:
            raise Refusal("TICKET_NOT_BLANK",
                          "Ce ticket est déjà crédité : seul un ticket sans somme affectée peut être crédité.",
                          {"ticket_id": str(ticket_id), "status": ticket.status.value})
        low, high = self.terms.ticket_min_cents, self.terms.ticket_max_cents
        if not (low <= amount_cents <= high):
            raise Refusal("AMOUNT_OUT_OF_RANGE",
                          f"Le montant d'un ticket doit être compris entre {format_euros(low)} "
                          f"et {format_euros(high)}.",
                          {"amount_cents": amount_cents, "min_cents": low, "max_cents": high})
        if affiliate_id is not None:
            _require_active(affiliate_id, known_affiliates)
        if amount_cents > self.remaining_cents:
            raise Refusal("ALLOWANCE_EXCEEDED",
                          f"Ce montant dépasse la somme restante sur le Pass : il reste "
                          f"{format_euros(self.remaining_cents)} à affecter.",
                          {"amount_cents": amount_cents, "remaining_cents": self.remaining_cents,
                           "allowance_cents": self.allowance_cents})
        ticket.status = TicketStatus.CREDITED
        ticket.amount_cents = amount_cents
        ticket.code = code
        ticket.affiliate_id = affiliate_id
        ticket.credited_at = now
        return ticket

    def assign(
        self,
        ticket_id: UUID,
        affiliate_id: str | None,
        *,
        now: datetime,
        known_affiliates: Mapping[str, Affiliate] | None = None,
    ) -> Ticket:
        """Reserve a credited ticket for one affiliate of the family's choice, or for none."""
        ticket = self.ticket(ticket_id)
        self._refuse_if_expired(now, "affecter un ticket")
        self._require_credited(ticket, "Seul un ticket crédité peut être affecté à un organisme.")
        if affiliate_id is not None:
            _require_active(affiliate_id, known_affiliates)
        ticket.affiliate_id = affiliate_id
        return ticket

    def request_void(self, ticket_id: UUID, *, now: datetime) -> Ticket:
        """Ask the redemption service to void a credited ticket; only it knows if it is spent."""
        ticket = self.ticket(ticket_id)
        self._refuse_if_expired(now, "annuler un ticket")
        self._require_credited(ticket, "Seul un ticket crédité et non utilisé peut être annulé.")
        ticket.status = TicketStatus.VOID_PENDING
        ticket.void_refusal_reason = None
        return ticket

    def sheet_tickets(self, positions: Sequence[int] | None, *, now: datetime) -> list[Ticket]:
        """The tickets to print on one page: the requested positions, or every credited ticket."""
        printable = {t.position: t for t in self.tickets
                     if t.status_at(now, self.valid_until) is TicketStatus.CREDITED}
        if positions is None:
            chosen = sorted(printable.values(), key=lambda t: t.position)
            if not chosen:
                raise Refusal("NO_CREDITED_TICKET",
                              "Aucun ticket crédité à imprimer : créditez d'abord un ticket.")
            return chosen[:MAX_TICKETS_PER_SHEET]
        if not (1 <= len(positions) <= MAX_TICKETS_PER_SHEET) or len(set(positions)) != len(positions):
            raise Refusal("POSITIONS_INVALID",
                          f"Choisissez de 1 à {MAX_TICKETS_PER_SHEET} tickets différents à imprimer.",
                          {"positions": list(positions)})
        missing = [p for p in positions if p not in printable]
        if missing:
            raise Refusal("TICKET_NOT_PRINTABLE",
                          "Seuls les tickets crédités, ni utilisés ni annulés, peuvent être imprimés.",
                          {"positions": missing})
        return [printable[p] for p in sorted(positions)]

    # -- what the redemption service tells us ---------------------------------------------------
    # Each returns whether the ticket changed: a redelivered or out-of-place event changes nothing.

    def ticket_redeemed(self, ticket_id: UUID, *, redeemed_at: datetime) -> bool:
        ticket = self.find_ticket(ticket_id)
        if ticket is None or ticket.status not in (TicketStatus.CREDITED, TicketStatus.VOID_PENDING):
            return False
        ticket.status = TicketStatus.REDEEMED
        ticket.redeemed_at = redeemed_at
        return True

    def redemption_cancelled(self, ticket_id: UUID) -> bool:
        ticket = self.find_ticket(ticket_id)
        if ticket is None or ticket.status is not TicketStatus.REDEEMED:
            return False
        ticket.status = TicketStatus.CREDITED
        ticket.redeemed_at = None
        return True

    def ticket_voided(self, ticket_id: UUID) -> bool:
        ticket = self.find_ticket(ticket_id)
        if ticket is None or ticket.status is not TicketStatus.VOID_PENDING:
            return False
        ticket.status = TicketStatus.VOIDED
        return True

    def void_refused(self, ticket_id: UUID, reason: str) -> bool:
        """The void was refused (the ticket was already redeemed): it goes back to what it was."""
        ticket = self.find_ticket(ticket_id)
        if ticket is None or ticket.status not in (TicketStatus.VOID_PENDING, TicketStatus.REDEEMED):
            return False
        if ticket.status is TicketStatus.VOID_PENDING:
            ticket.status = TicketStatus.CREDITED
        ticket.void_refusal_reason = reason
        return True

    # -- helpers -----------------------------------------------------------------------------------

    def _refuse_if_expired(self, now: datetime, action: str) -> None:
        if self.is_expired(now):
            raise Refusal("PASS_EXPIRED",
                          f"La période de validité du Pass a pris fin le {format_day(self.valid_until)} : "
                          f"il n'est plus possible de {action}.",
                          {"valid_until": self.valid_until.isoformat()})

    @staticmethod
    def _require_credited(ticket: Ticket, message: str) -> None:
        if ticket.status is not TicketStatus.CREDITED:
            raise Refusal("TICKET_NOT_CREDITED", message,
                          {"ticket_id": str(ticket.ticket_id), "status": ticket.status.value})


def _require_active(affiliate_id: str, known_affiliates: Mapping[str, Affiliate] | None) -> None:
    affiliate = (known_affiliates or {}).get(affiliate_id)
    if affiliate is None or not affiliate.active:
        raise Refusal("AFFILIATE_NOT_ACTIVE",
                      "Cet organisme n'est pas un organisme affilié actif du Pass : choisissez-en un autre.",
                      {"affiliate_id": affiliate_id})

