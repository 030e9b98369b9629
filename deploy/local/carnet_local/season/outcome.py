"""What a season is made of and what it leaves: its size, the people and tickets the driver follows,
and the outcome a report of the campaign must find again."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from .ledger import SeasonLedger


@dataclass(frozen=True)
class SeasonSize:
    families: int = 200          # families who apply online (one more, on paper, is entered by a school)
    schools: int = 4
    affiliates: int = 6
    seed: int = 2014


@dataclass
class SeasonOutcome:
    """What the driver did and saw: the figures a report of the campaign must find again."""

    campaign_id: str
    closed_campaign_id: str
    refused: Counter = field(default_factory=Counter)          # enrolment refusals by code
    submitted: int = 0                                          # applications received, the paper one included
    paper_applications: int = 0
    validated: int = 0
    validated_by_roster: int = 0
    rejected: int = 0
    wallets: int = 0
    allowance_cents: int = 0
    credited_tickets: int = 0                                   # every credit, voided ones and credits again included
    credited_cents: int = 0
    credited_by_amount: Counter = field(default_factory=Counter)
    voided_tickets: int = 0                                     # voids that went through (the ticket is blank again)
    voided_cents: int = 0
    credited_again: int = 0                                     # voided tickets credited again, with a new code
    replaced_tickets: int = 0                                   # lost tickets given a new code
    redeemed_tickets: int = 0                                   # redemptions that stand
    redeemed_cents: int = 0
    redeemed_by_amount: Counter = field(default_factory=Counter)
    students_who_used: int = 0
    affiliates: int = 0
    counter_mistakes: Counter = field(default_factory=Counter)  # what the counters got wrong, and the answers
    old_codes_refused: Counter = field(default_factory=Counter)  # a voided or replaced ticket's old code, at a counter
    family_mistakes: Counter = field(default_factory=Counter)
    late_cancellations: Counter = field(default_factory=Counter)  # the admin's, by what the ticket became
    sheets: int = 0
    school_sheets: int = 0                                      # a correspondent printing its paper families' tickets
    batch_id: str | None = None
    reimbursed_cents: int = 0
    reimbursed_tickets: int = 0
    pending_cents: int = 0
    late_redeemed_tickets: int = 0
    resent: Counter = field(default_factory=Counter)            # requests that met a stopped service
    ledger: SeasonLedger = field(default_factory=SeasonLedger)  # the driver's own books, ticket by ticket


@dataclass
class Affiliate:
    affiliate_id: str
    name: str
    login: str
    token: str


@dataclass
class Family:
    index: int
    sub: str | None              # None for a family without internet: its school's correspondent acts for it
    school_id: str
    student: dict[str, str]
    guardian: dict[str, str]
    address: dict[str, str]
    intent: str                  # ok, non_resident, late, duplicate, rejected (by the school)
    application_id: str | None = None
    wallet_id: str | None = None
    uses_pass: bool = True

    @property
    def paper(self) -> bool:
        return self.sub is None


@dataclass
class CreditedTicket:
    """One credit of a ticket, as the driver follows it to the counter (a ticket voided and credited
    again is a second credit of the same ticket id, with a new code)."""

    family: Family
    ticket_id: str
    position: int
    code: str
    amount: int
    affiliate_id: str | None
    voided: bool = False
    old_code: str | None = None          # the code it had before it was declared lost and replaced
    counter: Affiliate | None = None
    mistake: str | None = None
    redemption_id: str | None = None
    redeemed: bool = False

    @property
    def wallet_id(self) -> str:
        assert self.family.wallet_id is not None
        return self.family.wallet_id
