"""The privacy export's answer: what the wallet service holds about one family, one section per
kind of record. No spendable ticket code: only each code's last four symbols (see `NO_CODES`)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field

from carnet_contracts import ticket_code

from .application import PrivacyExport
from .domain import TicketStatus
from .views import RedeemedByView, StudentView

# Why the export never carries a code: it is a document meant to be kept, forwarded and gathered with
# the other services' parts (`carnet privacy export`); a code in it would be spendable money outside
# the wallet's protections, and an export asked by the admin would show staff what only the family
# may see. The family sees and prints its codes in its wallet as before.
NO_CODES = ("Les codes des tickets, qui valent de l'argent, ne figurent pas dans cet export : seuls leurs quatre "
            "derniers caractères y sont. Ils restent visibles et imprimables dans le porte-monnaie électronique.")


class ExportedWallet(BaseModel):
    wallet_id: UUID
    application_id: str
    campaign_id: str
    campaign_label: str
    school_id: str
    paper: bool
    student: StudentView
    guardian_email: str
    owner_sub: str | None = Field(description="The family account the wallet belongs to")
    allowance_cents: int
    credited_cents: int
    remaining_cents: int
    valid_until: date
    expiry_reminded_at: datetime | None
    anonymised_at: datetime | None


class ExportedTicket(BaseModel):
    wallet_id: UUID
    ticket_id: UUID
    position: int
    status: TicketStatus
    amount_cents: int | None
    code_suffix: str | None = Field(description="The code's last four symbols (never the code itself)")
    replacement_pending: bool
    affiliate_id: str | None
    affiliate_name: str | None
    credited_at: datetime | None
    redeemed_at: datetime | None
    redeemed_by: RedeemedByView | None
    void_refusal_reason: str | None
    replace_refusal_reason: str | None


class ExportedAct(BaseModel):
    wallet_id: UUID
    ticket_id: UUID | None
    action: str = Field(description="credit, assign, void, replace, print or email")
    actor_role: str = Field(description="correspondent or admin")
    actor_sub: str | None = Field(description="The account of the person who acted")
    acted_at: datetime
    detail: dict[str, Any]


class ExportedEmail(BaseModel):
    request_id: UUID
    wallet_id: UUID
    reason: str = Field(description="requested, or replaced (the new sheet after a replacement)")
    requested_at: datetime
    positions: list[int]


class PrivacyExportView(BaseModel):
    service: str = "wallet"
    subject: dict[str, str] = Field(description="Whom the export is about: the family account or the e-mail")
    generated_at: datetime
    wallets: list[ExportedWallet]
    tickets: list[ExportedTicket]
    acts_on_behalf: list[ExportedAct] = Field(
        description="What a correspondent or the admin did on the family's wallets, with who and when")
    ticket_emails: list[ExportedEmail] = Field(description="Ticket e-mails whose sheet is still kept")
    codes: str = Field(description="Why no spendable ticket code is exported")


def export_view(found: PrivacyExport) -> PrivacyExportView:
    names = {a.affiliate_id: a.name or None for a in found.affiliates.values()}
    return PrivacyExportView(
        subject=found.subject,
        generated_at=found.generated_at,
        wallets=[ExportedWallet(
            wallet_id=w.wallet_id, application_id=w.application_id, campaign_id=w.terms.campaign_id,
            campaign_label=w.terms.label, school_id=w.school_id, paper=w.paper,
            student=StudentView(last_name=w.student.last_name, first_name=w.student.first_name, level=w.student.level),
            guardian_email=w.guardian_email, owner_sub=w.owner_sub, allowance_cents=w.allowance_cents,
            credited_cents=w.credited_cents, remaining_cents=w.remaining_cents, valid_until=w.valid_until,
            expiry_reminded_at=w.expiry_reminded_at, anonymised_at=w.anonymised_at,
        ) for w in found.wallets],
        tickets=[ExportedTicket(
            wallet_id=w.wallet_id, ticket_id=t.ticket_id, position=t.position, status=t.status,
            amount_cents=t.amount_cents, code_suffix=ticket_code.display_suffix(t.code) if t.code else None,
            replacement_pending=t.pending_code is not None, affiliate_id=t.affiliate_id,
            affiliate_name=names.get(t.affiliate_id) if t.affiliate_id else None,
            credited_at=t.credited_at, redeemed_at=t.redeemed_at,
            redeemed_by=RedeemedByView(affiliate_id=t.redeemed_by, name=names.get(t.redeemed_by))
            if t.redeemed_by else None,
            void_refusal_reason=t.void_refusal_reason, replace_refusal_reason=t.replace_refusal_reason,
        ) for w in found.wallets for t in w.tickets],
        acts_on_behalf=[ExportedAct(wallet_id=a.wallet_id, ticket_id=a.ticket_id, action=a.action.value,
                                    actor_role=a.actor_role, actor_sub=a.actor_sub, acted_at=a.acted_at,
                                    detail=a.detail) for a in found.acts],
        ticket_emails=[ExportedEmail(request_id=e.request_id, wallet_id=e.wallet_id, reason=e.reason,
                                     requested_at=e.requested_at, positions=e.positions) for e in found.emails],
        codes=NO_CODES,
    )
