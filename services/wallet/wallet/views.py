"""What the wallet's routes answer: response models (the OpenAPI document shows them to gateway
teams) and how a wallet, a sheet and the figures become them."""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

from pydantic import BaseModel, Field

from carnet_contracts import ticket_code

from .application import Shown
from .domain import Affiliate, Ticket, TicketStatus, Wallet
from .sheet import Sheet, SheetTicket
from .store import CampaignFigures


class StudentView(BaseModel):
    last_name: str
    first_name: str
    level: str | None


class TicketView(BaseModel):
    ticket_id: UUID
    position: int = Field(description="1 to the number of tickets of the pass (7 by default)")
    status: TicketStatus
    amount_cents: int | None
    code: str | None = Field(description="The spendable code: credited tickets, for the family that owns the wallet only")
    code_display: str | None = Field(description="The code in groups of six, as printed")
    code_suffix: str | None = Field(description="The code's last four symbols, to recognise a ticket")
    affiliate_id: str | None = Field(description="The affiliate the ticket is reserved for, if any")
    affiliate_name: str | None
    credited_at: datetime | None
    redeemed_at: datetime | None
    void_refusal_reason: str | None = Field(description="Why the last void was refused (the ticket was redeemed)")


class WalletView(BaseModel):
    wallet_id: UUID
    application_id: str
    campaign_id: str
    campaign_label: str
    school_id: str
    student: StudentView
    allowance_cents: int
    credited_cents: int
    remaining_cents: int
    ticket_min_cents: int
    ticket_max_cents: int
    valid_until: date = Field(description="The pass's last valid day (Europe/Paris)")
    expired: bool
    tickets: list[TicketView]


class EmailRequestView(BaseModel):
    request_id: str
    wallet_id: UUID
    positions: list[int]


class AmountFigures(BaseModel):
    amount_cents: int
    count: int = Field(description="Tickets of this amount, voided ones excepted")
    by_status: dict[str, int]


class WalletFigures(BaseModel):
    campaign_id: str | None
    passes_with_wallet: int
    wallets_with_redeemed_ticket: int
    allowance_cents: int
    credited_cents: int
    remaining_cents: int
    tickets_by_status: dict[str, int]
    tickets_by_amount: list[AmountFigures]
    watched_amounts: dict[str, int] = Field(description="Tickets of each amount the département follows")


def ticket_view(wallet: Wallet, ticket: Ticket, now: datetime, *, with_codes: bool,
                affiliates: dict[str, Affiliate]) -> TicketView:
    status = ticket.status_at(now, wallet.valid_until)
    show_code = with_codes and status is TicketStatus.CREDITED
    affiliate = affiliates.get(ticket.affiliate_id) if ticket.affiliate_id else None
    return TicketView(
        ticket_id=ticket.ticket_id,
        position=ticket.position,
        status=status,
        amount_cents=ticket.amount_cents,
        code=ticket.code if show_code else None,
        code_display=ticket_code.format_groups(ticket.code) if show_code else None,
        code_suffix=ticket_code.display_suffix(ticket.code) if ticket.code else None,
        affiliate_id=ticket.affiliate_id,
        affiliate_name=affiliate.name if affiliate else None,
        credited_at=ticket.credited_at,
        redeemed_at=ticket.redeemed_at,
        void_refusal_reason=ticket.void_refusal_reason,
    )


def one_ticket(shown: Shown) -> TicketView:
    return ticket_view(shown.wallet, shown.tickets[0], shown.now, with_codes=shown.with_codes,
                       affiliates=shown.affiliates)


def wallet_view(shown: Shown) -> WalletView:
    wallet = shown.wallet
    return WalletView(
        wallet_id=wallet.wallet_id,
        application_id=wallet.application_id,
        campaign_id=wallet.terms.campaign_id,
        campaign_label=wallet.terms.label,
        school_id=wallet.school_id,
        student=StudentView(last_name=wallet.student.last_name, first_name=wallet.student.first_name,
                            level=wallet.student.level),
        allowance_cents=wallet.allowance_cents,
        credited_cents=wallet.credited_cents,
        remaining_cents=wallet.remaining_cents,
        ticket_min_cents=wallet.terms.ticket_min_cents,
        ticket_max_cents=wallet.terms.ticket_max_cents,
        valid_until=wallet.valid_until,
        expired=wallet.is_expired(shown.now),
        tickets=[ticket_view(wallet, t, shown.now, with_codes=shown.with_codes, affiliates=shown.affiliates)
                 for t in wallet.tickets],
    )


def sheet_of(shown: Shown) -> Sheet:
    wallet, affiliates = shown.wallet, shown.affiliates
    return Sheet(
        student_name=wallet.student.full_name,
        campaign_label=wallet.terms.label,
        valid_until=wallet.valid_until,
        tickets=[
            SheetTicket(position=t.position, code=t.code, amount_cents=t.amount_cents,
                        affiliate_name=affiliates[t.affiliate_id].name if t.affiliate_id in affiliates else None)
            for t in shown.tickets
        ],
    )


def figures_view(found: CampaignFigures, campaign_id: str | None, watched: list[int]) -> WalletFigures:
    by_status = {status.value: 0 for status in TicketStatus}
    by_status.update(found.tickets_by_status)
    by_amount: dict[int, AmountFigures] = {}
    for amount, status, count in found.amount_rows:
        entry = by_amount.setdefault(amount, AmountFigures(amount_cents=amount, count=0, by_status={}))
        entry.by_status[status] = count
        # a voided ticket's amount went back to the allowance: it is not a ticket of that amount any more
        if status != TicketStatus.VOIDED.value:
            entry.count += count
    return WalletFigures(
        campaign_id=campaign_id,
        passes_with_wallet=found.wallets,
        wallets_with_redeemed_ticket=found.wallets_with_redeemed_ticket,
        allowance_cents=found.allowance_cents,
        credited_cents=found.credited_cents,
        remaining_cents=found.allowance_cents - found.credited_cents,
        tickets_by_status=by_status,
        tickets_by_amount=list(by_amount.values()),
        watched_amounts={str(a): by_amount[a].count if a in by_amount else 0 for a in watched},
    )
