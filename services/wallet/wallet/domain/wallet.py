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

from carnet_contracts.calendar import end_of_paris_day, paris_day
from carnet_contracts.display import day as format_day
from carnet_contracts.display import euros as format_euros
from carnet_runtime.errors import Refusal

MAX_TICKETS_PER_SHEET = 7


class TicketStatus(StrEnum):
    BLANK = "blank"
    CREDITED = "credited"
    REDEEMED = "redeemed"
    VOID_PENDING = "void_pending"
    # History only: a voided ticket is blank again (its amount back in the remaining, its code gone).
    VOIDED = "voided"
    REPLACE_PENDING = "replace_pending"
    # Never stored: how a blank or credited ticket is shown once the pass's validity has ended.
    EXPIRED = "expired"


# Every state of a credited ticket holds its amount; a blank (or voided, for history) one does not.
HOLDS_AMOUNT = frozenset({TicketStatus.CREDITED, TicketStatus.REDEEMED, TicketStatus.VOID_PENDING,
                          TicketStatus.REPLACE_PENDING})
# States in which the ticket still has a code redemption may accept.
_SPENDABLE = frozenset({TicketStatus.CREDITED, TicketStatus.VOID_PENDING, TicketStatus.REPLACE_PENDING})


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
    # The affiliate that redeemed it (TicketRedeemed), whoever it was assigned to.
    redeemed_by: str | None = None
    # The code a replacement will give, kept until the redemption service revoked the old one.
    pending_code: str | None = None
    replace_refusal_reason: str | None = None

    @property
    def holds_amount(self) -> bool:
        return self.status in HOLDS_AMOUNT

    @property
    def unspent(self) -> bool:
        return self.holds_amount and self.status is not TicketStatus.REDEEMED

    def _give_back(self) -> None:
        """Blank again: no amount, no code, no affiliate."""
        self.status = TicketStatus.BLANK
        self.amount_cents = self.code = self.pending_code = self.affiliate_id = None
        self.credited_at = self.redeemed_at = self.redeemed_by = None
        self.void_refusal_reason = self.replace_refusal_reason = None

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
    # From a paper application: its school's correspondent (and the admin) act for the family.
    paper: bool = False
    # Names, e-mail, account and codes were erased (purge or erasure); amounts and dates stay.
    anonymised_at: datetime | None = None
    # When the family was reminded that the pass ends soon with money left on it.
    expiry_reminded_at: datetime | None = None

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
        """A new wallet with the campaign's number of blank tickets, at positions 1..N. A pass granted
        without a family account (a paper application) is kept by the school."""
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
            paper=owner_sub is None,
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
    def credited_unspent_cents(self) -> int:
        return sum(t.amount_cents or 0 for t in self.tickets if t.unspent)

    @property
    def money_left_cents(self) -> int:
        """What the family can still spend: credited and unspent, plus not yet credited."""
        return self.credited_unspent_cents + self.remaining_cents

    @property
    def valid_until(self) -> date:
        return self.terms.pass_valid_until

    def is_expired(self, now: datetime) -> bool:
        return now >= validity_end(self.valid_until)

    def expiry_reminder_due(self, now: datetime, days_before: int) -> bool:
        """The pass ends in `days_before` days or fewer (Paris days) and money is
        left on it."""
        today = paris_day(now)
        return (self.anonymised_at is None and not self.is_expired(now)
                and (self.valid_until - today).days <= days_before and self.money_left_cents > 0)

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

    def request_replace(self, ticket_id: UUID, *, new_code: str, now: datetime) -> Ticket:
        """A lost or stolen credited ticket gets a new code, kept pending until the redemption
        service has revoked the old one (or answered that it was redeemed meanwhile)."""
        ticket = self.ticket(ticket_id)
        self._refuse_if_expired(now, "remplacer un ticket")
        self._require_credited(ticket, "Seul un ticket crédité et non utilisé peut être remplacé.")
        ticket.status = TicketStatus.REPLACE_PENDING
        ticket.pending_code = new_code
        ticket.replace_refusal_reason = None
        return ticket

    def printable_tickets(self, now: datetime) -> list[Ticket]:
        """Every credited ticket that has its code, by position (an erased wallet's have none)."""
        return [t for t in self.tickets
                if t.status_at(now, self.valid_until) is TicketStatus.CREDITED and t.code is not None]

    def sheet_tickets(self, positions: Sequence[int] | None, *, now: datetime) -> list[Ticket]:
        """The tickets to print on one page: the requested positions, or every credited ticket."""
        printable = {t.position: t for t in self.printable_tickets(now)}
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

    def ticket_redeemed(self, ticket_id: UUID, *, redeemed_at: datetime, affiliate_id: str | None = None) -> bool:
        ticket = self.find_ticket(ticket_id)
        if ticket is None or ticket.status not in _SPENDABLE:
            return False
        ticket.status = TicketStatus.REDEEMED
        ticket.redeemed_at = redeemed_at
        ticket.redeemed_by = affiliate_id
        ticket.pending_code = None  # a replacement asked meanwhile will be refused
        return True

    def redemption_cancelled(self, ticket_id: UUID, *, then_void: bool = False) -> bool:
        """Undone at the counter (redeemable again) or by the admin, who may void it instead: then a
        TicketVoided follows, and the ticket waits for it as `void_pending`."""
        ticket = self.find_ticket(ticket_id)
        if ticket is None or ticket.status is not TicketStatus.REDEEMED:
            return False
        ticket.status = TicketStatus.VOID_PENDING if then_void else TicketStatus.CREDITED
        ticket.redeemed_at = ticket.redeemed_by = None
        return True

    def ticket_voided(self, ticket_id: UUID) -> bool:
        """The redemption service retired the code for ever: the ticket is blank again, its amount
        back in the remaining, ready to be credited with a new code."""
        ticket = self.find_ticket(ticket_id)
        if ticket is None or ticket.status not in _SPENDABLE:
            return False
        ticket._give_back()
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

    def ticket_replaced(self, ticket_id: UUID) -> Ticket | None:
        """The old code is revoked: the pending code is the ticket's code (same amount, same affiliate)."""
        ticket = self.find_ticket(ticket_id)
        if ticket is None or ticket.status is not TicketStatus.REPLACE_PENDING or ticket.pending_code is None:
            return None
        ticket.status = TicketStatus.CREDITED
        ticket.code, ticket.pending_code = ticket.pending_code, None
        return ticket

    def replace_refused(self, ticket_id: UUID, reason: str, *, redeemed_at: datetime | None,
                        affiliate_id: str | None) -> bool:
        """It was redeemed before it could be replaced: it stays redeemed, the pending code is dropped."""
        ticket = self.find_ticket(ticket_id)
        if ticket is None or ticket.status not in (TicketStatus.REPLACE_PENDING, TicketStatus.REDEEMED):
            return False
        if ticket.status is TicketStatus.REPLACE_PENDING:
            ticket.status = TicketStatus.REDEEMED
            ticket.redeemed_at = redeemed_at
            ticket.redeemed_by = affiliate_id
        ticket.pending_code = None
        ticket.replace_refusal_reason = reason
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

