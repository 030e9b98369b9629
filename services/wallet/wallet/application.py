"""The wallet's use cases: one method per command or event, each in one unit of work: load the
wallet (under its row lock when it changes), let the domain decide, store, publish the events.

Who may do what with a wallet is decided here, where the wallet is loaded: its family; a
correspondent or the admin where the route allows them (a correspondent only for its own school);
the notification service for the sheet. Another family is told the wallet does not exist.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from carnet_contracts import ticket_code
from carnet_contracts.events import (
    PassGranted,
    TicketAssigned,
    TicketCredited,
    TicketsEmailRequested,
    TicketVoidRequested,
    WalletCreated,
)
from carnet_runtime import Refusal
from carnet_runtime.auth import Principal, forbidden

from .domain import Affiliate, CampaignTerms, Student, Ticket, Wallet
from .store import CampaignFigures, PublishedTerms, WalletUnitOfWork

# Only the notification service, with a token scoped to this call, fetches sheets for e-mail.
SHEET_SCOPE = "wallet.tickets_pdf"
SHEET_CALLERS = ("notification",)


@dataclass(frozen=True)
class CreditTicket:
    wallet_id: UUID
    ticket_id: UUID
    amount_cents: int
    affiliate_id: str | None = None


@dataclass(frozen=True)
class AssignTicket:
    wallet_id: UUID
    ticket_id: UUID
    affiliate_id: str | None


@dataclass(frozen=True)
class Shown:
    """A wallet (or some of its tickets) as the caller may see it at `now`."""

    wallet: Wallet
    now: datetime
    with_codes: bool
    affiliates: dict[str, Affiliate]
    tickets: Sequence[Ticket] = ()


@dataclass(frozen=True)
class EmailRequested:
    request_id: str
    wallet_id: UUID
    positions: list[int]


def utc_now() -> datetime:
    return datetime.now(UTC)


class WalletUseCases:
    def __init__(self, code_hash_key: bytes, *, clock: Callable[[], datetime] = utc_now,
                 new_code: Callable[[], str] = ticket_code.generate):
        self.code_hash_key = code_hash_key
        self.clock = clock
        self.new_code = new_code

    # -- what families (and their helpers) do -------------------------------------------------

    async def show(self, uow: WalletUnitOfWork, actor: Principal, wallet_id: UUID) -> Shown:
        async with uow:
            wallet = await _wallet_for(uow, actor, wallet_id, readers=("admin",))
            affiliates = await uow.affiliates.of(t.affiliate_id for t in wallet.tickets)
        return Shown(wallet, self.clock(), _owns(actor, wallet), affiliates, wallet.tickets)

    async def credit(self, uow: WalletUnitOfWork, actor: Principal, command: CreditTicket) -> Shown:
        """Put a sum on a blank ticket, which gets its code; optionally reserve it for one affiliate."""
        now = self.clock()
        async with uow:
            wallet = await _wallet_for(uow, actor, command.wallet_id, for_update=True)
            known = await uow.affiliates.of([command.affiliate_id])
            ticket = wallet.credit(command.ticket_id, command.amount_cents, code=self.new_code(), now=now,
                                   affiliate_id=command.affiliate_id, known_affiliates=known)
            await uow.wallets.save_ticket(ticket)
            uow.publish(TicketCredited(
                ticket_id=str(ticket.ticket_id), wallet_id=str(wallet.wallet_id),
                campaign_id=wallet.terms.campaign_id, position=ticket.position,
                code_hash=ticket_code.code_hash(ticket.code, self.code_hash_key),
                code_suffix=ticket_code.display_suffix(ticket.code), amount_cents=ticket.amount_cents,
                affiliate_id=ticket.affiliate_id, valid_until=wallet.valid_until, credited_at=now,
            ))
        return Shown(wallet, now, True, known, [ticket])

    async def assign(self, uow: WalletUnitOfWork, actor: Principal, command: AssignTicket) -> Shown:
        """Reserve a credited ticket for one affiliate, or (None) for any."""
        now = self.clock()
        async with uow:
            wallet = await _wallet_for(uow, actor, command.wallet_id, for_update=True)
            known = await uow.affiliates.of([command.affiliate_id])
            ticket = wallet.assign(command.ticket_id, command.affiliate_id, now=now, known_affiliates=known)
            await uow.wallets.save_ticket(ticket)
            uow.publish(TicketAssigned(
                ticket_id=str(ticket.ticket_id), wallet_id=str(wallet.wallet_id),
                campaign_id=wallet.terms.campaign_id, affiliate_id=ticket.affiliate_id,
                code_suffix=ticket_code.display_suffix(ticket.code), amount_cents=ticket.amount_cents,
                assigned_at=now,
            ))
        return Shown(wallet, now, True, known, [ticket])

    async def request_void(self, uow: WalletUnitOfWork, actor: Principal, wallet_id: UUID, ticket_id: UUID) -> Shown:
        """Ask to void a credited ticket: the redemption service answers, by event, whether it was spent."""
        now = self.clock()
        async with uow:
            wallet = await _wallet_for(uow, actor, wallet_id, for_update=True)
            ticket = wallet.request_void(ticket_id, now=now)
            await uow.wallets.save_ticket(ticket)
            uow.publish(TicketVoidRequested(
                ticket_id=str(ticket.ticket_id), wallet_id=str(wallet.wallet_id),
                campaign_id=wallet.terms.campaign_id, requested_at=now,
            ))
        return Shown(wallet, now, False, {}, [ticket])

    async def sheet(self, uow: WalletUnitOfWork, actor: Principal, wallet_id: UUID,
                    positions: Sequence[int] | None) -> Shown:
        """The credited tickets to print on one page: the requested positions, or every credited one."""
        now = self.clock()
        async with uow:
            wallet = await _wallet_for(uow, actor, wallet_id, readers=("correspondent", "service", "admin"))
            chosen = wallet.sheet_tickets(positions, now=now)
            affiliates = await uow.affiliates.of(t.affiliate_id for t in chosen)
        return Shown(wallet, now, True, affiliates, chosen)

    async def email_sheet(self, uow: WalletUnitOfWork, actor: Principal, wallet_id: UUID,
                          positions: Sequence[int] | None) -> EmailRequested:
        """E-mail the sheet to the guardian. The event names the tickets; the notification service
        fetches the sheet from this API, so no code travels on Kafka."""
        now = self.clock()
        async with uow:
            wallet = await _wallet_for(uow, actor, wallet_id)
            chosen = [t.position for t in wallet.sheet_tickets(positions, now=now)]
            request_id = str(uuid.uuid4())
            uow.publish(TicketsEmailRequested(
                request_id=request_id, wallet_id=str(wallet.wallet_id), campaign_id=wallet.terms.campaign_id,
                positions=chosen, guardian_email=wallet.guardian_email,
                student_first_name=wallet.student.first_name, requested_at=now,
            ))
        return EmailRequested(request_id, wallet.wallet_id, chosen)

    async def figures(self, uow: WalletUnitOfWork, campaign_id: str | None) -> CampaignFigures:
        async with uow:
            return await uow.figures.of_campaign(campaign_id, self.clock())

    # -- what other services tell us ---------------------------------------------------------------

    async def pass_granted(self, uow: WalletUnitOfWork, event: PassGranted) -> Wallet | None:
        """Exactly one wallet per granted application, however often the event arrives."""
        async with uow:
            if await uow.wallets.id_of_application(event.application_id) is not None:
                return None
            published = await uow.campaigns.terms(event.campaign_id)
            terms = CampaignTerms(
                campaign_id=event.campaign_id,
                label=published.label if published else event.campaign_label,
                allowance_cents=event.allowance_cents,
                tickets_per_pass=event.tickets_per_pass,
                ticket_min_cents=published.ticket_min_cents if published else event.ticket_min_cents,
                ticket_max_cents=published.ticket_max_cents if published else event.ticket_max_cents,
                pass_valid_until=published.pass_valid_until if published else event.pass_valid_until,
            )
            wallet = Wallet.open(
                application_id=event.application_id, school_id=event.school_id, owner_sub=event.family_sub,
                guardian_email=event.guardian.email,
                student=Student(event.student.last_name, event.student.first_name, event.student.level),
                terms=terms,
            )
            if not await uow.wallets.add(wallet):
                return None  # another consumer of the same application won the unique index
            uow.publish(WalletCreated(
                wallet_id=str(wallet.wallet_id), application_id=wallet.application_id,
                campaign_id=terms.campaign_id, family_sub=wallet.owner_sub, ticket_count=len(wallet.tickets),
                allowance_cents=terms.allowance_cents, valid_until=terms.pass_valid_until,
                student_first_name=wallet.student.first_name, guardian_email=wallet.guardian_email,
                created_at=self.clock(),
            ))
        return wallet

    async def ticket_changed(self, uow: WalletUnitOfWork, wallet_id: str, ticket_id: str,
                             change: Callable[[Wallet, UUID], bool]) -> bool:
        """Apply what the redemption service says about one of our tickets; anything else is ignored."""
        try:
            wallet_uuid, ticket_uuid = UUID(wallet_id), UUID(ticket_id)
        except ValueError:
            return False  # not an id this service ever gave out
        async with uow:
            wallet = await uow.wallets.get(wallet_uuid, for_update=True)
            if wallet is None or not change(wallet, ticket_uuid):
                return False
            await uow.wallets.save_ticket(wallet.ticket(ticket_uuid))
        return True

    async def affiliate_activated(self, uow: WalletUnitOfWork, affiliate_id: str, name: str) -> None:
        async with uow:
            await uow.affiliates.activated(affiliate_id, name)

    async def affiliate_suspended(self, uow: WalletUnitOfWork, affiliate_id: str) -> None:
        async with uow:
            await uow.affiliates.suspended(affiliate_id)

    async def campaign_published(self, uow: WalletUnitOfWork, campaign_id: str, terms: PublishedTerms) -> None:
        async with uow:
            await uow.campaigns.published(campaign_id, terms)


# -- access ----------------------------------------------------------------------------------------


def _owns(actor: Principal, wallet: Wallet) -> bool:
    return actor.role == "family" and wallet.owner_sub is not None and actor.sub == wallet.owner_sub


def wallet_unknown(wallet_id: UUID) -> Refusal:
    return Refusal("WALLET_UNKNOWN", "Ce porte-monnaie électronique n'existe pas ou ne vous est pas accessible.",
                   {"wallet_id": str(wallet_id)})


async def _wallet_for(uow: WalletUnitOfWork, actor: Principal, wallet_id: UUID, *,
                      readers: tuple[str, ...] = (), for_update: bool = False) -> Wallet:
    """The wallet if `actor` may act on it: its family, or a reader role (a correspondent only for
    its own school, a service only the notification's). Another family gets 404, so that the
    wallet's existence does not leak."""
    wallet = await uow.wallets.get(wallet_id, for_update=for_update)
    if wallet is None or (actor.role == "family" and not _owns(actor, wallet)):
        raise wallet_unknown(wallet_id)
    if actor.role == "family":
        return wallet
    if actor.role not in readers or (actor.role == "service" and actor.sub not in SHEET_CALLERS):
        raise forbidden()
    if actor.role == "correspondent" and actor.school_id != wallet.school_id:
        raise forbidden("Ce porte-monnaie électronique est celui d'un élève d'un autre collège.", "OTHER_SCHOOL")
    return wallet
