"""What families do with their wallet (and, for a paper wallet, the school's correspondent or the
admin for them): see it, credit, assign, void, replace, print and e-mail tickets."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, NamedTuple
from uuid import UUID

from carnet_contracts import ticket_code
from carnet_contracts.envelope import Event
from carnet_contracts.events import (
    TicketAssigned,
    TicketCredited,
    TicketReplaceRequested,
    TicketsEmailRequested,
    TicketVoidRequested,
)
from carnet_runtime import Refusal
from carnet_runtime.auth import Principal, forbidden

from ..domain import Action, Affiliate, SheetSnapshot, SnapshotTicket, Ticket, Wallet
from ..store import WalletUnitOfWork
from .access import KEEPERS, SHEET_CALLERS, Access, Right, acts_for, other_school, wallet_for, wallet_unknown


@dataclass(frozen=True)
class CreditTicket:
    """Put a sum on a blank ticket, reserved for one affiliate when `affiliate_id` is given."""

    wallet_id: UUID
    ticket_id: UUID
    amount_cents: int
    affiliate_id: str | None = None


@dataclass(frozen=True)
class AssignTicket:
    """Reserve a credited ticket for one affiliate (None: for any)."""

    wallet_id: UUID
    ticket_id: UUID
    affiliate_id: str | None


class Kept(NamedTuple):
    """What a keeper's change to one ticket leaves: the ticket, the act and the event, and the act's detail."""

    ticket: Ticket
    action: Action
    event: Event
    detail: Mapping[str, Any] = MappingProxyType({})


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


@dataclass(frozen=True)
class EmailedSheet:
    """The sheet of one ticket e-mail, as it was when asked."""

    wallet: Wallet
    snapshot: SheetSnapshot


def utc_now() -> datetime:
    return datetime.now(UTC)


def _affiliate_ids(tickets: Sequence[Ticket]) -> list[str | None]:
    return [a for t in tickets for a in (t.affiliate_id, t.redeemed_by)]


class UseCasesBase:
    def __init__(self, code_hash_key: bytes, *, clock: Callable[[], datetime] = utc_now,
                 new_code: Callable[[], str] = ticket_code.generate):
        self.code_hash_key = code_hash_key
        self.clock = clock
        self.new_code = new_code

    async def _email(self, uow: WalletUnitOfWork, wallet: Wallet, tickets: Sequence[Ticket], reason: str,
                     now: datetime) -> EmailRequested:
        """Keep the sheet as it is now (codes sealed) and ask the notification service to send it: the
        event names the request, never a code; the sheet is fetched from this API by request id."""
        affiliates = await uow.affiliates.of(t.affiliate_id for t in tickets)
        request_id = uuid.uuid4()
        await uow.snapshots.add(SheetSnapshot(
            request_id=request_id, wallet_id=wallet.wallet_id, campaign_id=wallet.terms.campaign_id, reason=reason,
            requested_at=now,
            tickets=[SnapshotTicket(t.position, t.ticket_id, t.amount_cents or 0,
                                    affiliates[t.affiliate_id].name if t.affiliate_id in affiliates else None, t.code)
                     for t in tickets if t.code],
        ))
        positions = [t.position for t in tickets]
        uow.publish(TicketsEmailRequested(
            request_id=str(request_id), wallet_id=str(wallet.wallet_id), campaign_id=wallet.terms.campaign_id,
            positions=positions, guardian_email=wallet.guardian_email,
            student_first_name=wallet.student.first_name, requested_at=now, reason=reason,
        ))
        return EmailRequested(str(request_id), wallet.wallet_id, positions)


class FamilyCommands(UseCasesBase):
    async def show(self, uow: WalletUnitOfWork, actor: Principal, wallet_id: UUID) -> Shown:
        async with uow:
            access = await wallet_for(uow, actor, wallet_id, Right.READ)
            affiliates = await uow.affiliates.of(_affiliate_ids(access.wallet.tickets))
        return Shown(access.wallet, self.clock(), access.with_codes, affiliates, access.wallet.tickets)

    async def credit(self, uow: WalletUnitOfWork, actor: Principal, command: CreditTicket) -> Shown:
        """Put a sum on a blank ticket, which gets a new code; optionally reserve it for one affiliate."""
        def credit(wallet: Wallet, now: datetime, known: dict[str, Affiliate]) -> Kept:
            ticket = wallet.credit(command.ticket_id, command.amount_cents, code=self.new_code(), now=now,
                                   affiliate_id=command.affiliate_id, known_affiliates=known)
            return Kept(ticket, Action.CREDIT, TicketCredited(
                ticket_id=str(ticket.ticket_id), wallet_id=str(wallet.wallet_id),
                campaign_id=wallet.terms.campaign_id, position=ticket.position,
                code_hash=ticket_code.code_hash(ticket.code, self.code_hash_key),
                code_suffix=ticket_code.display_suffix(ticket.code), amount_cents=ticket.amount_cents,
                affiliate_id=ticket.affiliate_id, valid_until=wallet.valid_until, credited_at=now,
            ), {"amount_cents": ticket.amount_cents, "affiliate_id": ticket.affiliate_id})

        return await self._keep(uow, actor, command.wallet_id, credit, affiliate_id=command.affiliate_id,
                                shows_code=True)

    async def assign(self, uow: WalletUnitOfWork, actor: Principal, command: AssignTicket) -> Shown:
        """Reserve a credited ticket for one affiliate, or (None) for any."""
        def assign(wallet: Wallet, now: datetime, known: dict[str, Affiliate]) -> Kept:
            ticket = wallet.assign(command.ticket_id, command.affiliate_id, now=now, known_affiliates=known)
            return Kept(ticket, Action.ASSIGN, TicketAssigned(
                ticket_id=str(ticket.ticket_id), wallet_id=str(wallet.wallet_id),
                campaign_id=wallet.terms.campaign_id, affiliate_id=ticket.affiliate_id,
                code_suffix=ticket_code.display_suffix(ticket.code), amount_cents=ticket.amount_cents,
                assigned_at=now,
            ), {"affiliate_id": ticket.affiliate_id})

        return await self._keep(uow, actor, command.wallet_id, assign, affiliate_id=command.affiliate_id,
                                shows_code=True)

    async def request_void(self, uow: WalletUnitOfWork, actor: Principal, wallet_id: UUID, ticket_id: UUID) -> Shown:
        """Ask to void a credited ticket: the redemption service answers, by event, whether it was spent."""
        def request_void(wallet: Wallet, now: datetime, _: dict[str, Affiliate]) -> Kept:
            ticket = wallet.request_void(ticket_id, now=now)
            return Kept(ticket, Action.VOID, TicketVoidRequested(
                ticket_id=str(ticket.ticket_id), wallet_id=str(wallet.wallet_id),
                campaign_id=wallet.terms.campaign_id, requested_at=now,
            ))

        return await self._keep(uow, actor, wallet_id, request_void)

    async def request_replace(self, uow: WalletUnitOfWork, actor: Principal, wallet_id: UUID,
                              ticket_id: UUID) -> Shown:
        """A lost or stolen ticket: its new code is made now and kept sealed; the redemption service
        revokes the old one (TicketReplaced) unless it was redeemed meanwhile (TicketReplaceRefused)."""
        def request_replace(wallet: Wallet, now: datetime, _: dict[str, Affiliate]) -> Kept:
            ticket = wallet.request_replace(ticket_id, new_code=self.new_code(), now=now)
            return Kept(ticket, Action.REPLACE, TicketReplaceRequested(
                ticket_id=str(ticket.ticket_id), wallet_id=str(wallet.wallet_id),
                campaign_id=wallet.terms.campaign_id,
                new_code_hash=ticket_code.code_hash(ticket.pending_code, self.code_hash_key),
                new_code_suffix=ticket_code.display_suffix(ticket.pending_code), requested_at=now,
            ))

        return await self._keep(uow, actor, wallet_id, request_replace)

    async def _keep(self, uow: WalletUnitOfWork, actor: Principal, wallet_id: UUID,
                    change: Callable[[Wallet, datetime, dict[str, Affiliate]], Kept], *,
                    affiliate_id: str | None = None, shows_code: bool = False) -> Shown:
        """One ticket changed by someone who keeps the wallet (the family, or the school for a paper
        one), in one transaction: the wallet locked, the change decided by the domain, the ticket
        saved, the act recorded (when not the family's) and the event published. The affiliate a
        credit or an assignment names is looked up; their answer shows the ticket's code."""
        now = self.clock()
        async with uow:
            access = await wallet_for(uow, actor, wallet_id, Right.KEEP, for_update=True)
            known = await uow.affiliates.of([affiliate_id]) if affiliate_id is not None else {}
            kept = change(access.wallet, now, known)
            await uow.wallets.save_ticket(kept.ticket)
            await uow.acts.record(access.acts(kept.action, [kept.ticket], now, **kept.detail))
            uow.publish(kept.event)
        return Shown(access.wallet, now, shows_code, known, [kept.ticket])

    async def sheet(self, uow: WalletUnitOfWork, actor: Principal, wallet_id: UUID,
                    positions: Sequence[int] | None) -> Shown:
        """The credited tickets to print on one page: the requested positions, or every credited one."""
        now = self.clock()
        async with uow:
            access, chosen = await _sheet_of(uow, actor, wallet_id, Right.PRINT, positions, now)
            affiliates = await uow.affiliates.of(t.affiliate_id for t in chosen)
            await uow.acts.record(access.acts(Action.PRINT, chosen, now))
        return Shown(access.wallet, now, True, affiliates, chosen)

    async def emailed_sheet(self, uow: WalletUnitOfWork, actor: Principal, wallet_id: UUID,
                            request_id: UUID) -> EmailedSheet:
        """The sheet of a ticket e-mail as it was asked, whatever happened since: for the notification
        service only, which fetches it when it sends."""
        if actor.role != "service" or actor.sub not in SHEET_CALLERS:
            raise forbidden()
        async with uow:
            access = await wallet_for(uow, actor, wallet_id, Right.PRINT)
            snapshot = await uow.snapshots.get(request_id)
        if snapshot is None or snapshot.wallet_id != wallet_id or not snapshot.tickets:
            raise Refusal("EMAIL_REQUEST_UNKNOWN",
                          "Cette demande d'envoi de tickets n'existe pas ou n'est plus conservée.",
                          {"request_id": str(request_id)})
        return EmailedSheet(access.wallet, snapshot)

    async def email_sheet(self, uow: WalletUnitOfWork, actor: Principal, wallet_id: UUID,
                          positions: Sequence[int] | None) -> EmailRequested:
        """E-mail the sheet, as it is now, to the guardian."""
        now = self.clock()
        async with uow:
            access, chosen = await _sheet_of(uow, actor, wallet_id, Right.KEEP, positions, now)
            requested = await self._email(uow, access.wallet, chosen, "requested", now)
            await uow.acts.record(access.acts(Action.EMAIL, chosen, now, request_id=requested.request_id))
        return requested

    async def school_sheet(self, uow: WalletUnitOfWork, actor: Principal, school_id: str,
                           wallet_ids: Sequence[UUID]) -> list[Shown]:
        """The credited tickets of several pupils of one school, a page (or more) per pupil, in the
        order asked: for its correspondent (or the admin), recorded as printed for each family."""
        if actor.role not in KEEPERS:
            raise forbidden()
        if actor.role == "correspondent" and actor.school_id != school_id:
            raise other_school()
        now = self.clock()
        async with uow:
            found = {w.wallet_id: w for w in await uow.wallets.get_many(wallet_ids)}
            if unknown := [w for w in wallet_ids if w not in found]:
                raise wallet_unknown(*unknown)
            if elsewhere := [w for w in wallet_ids if found[w].school_id != school_id]:
                raise other_school(*elsewhere)
            chosen = {w: found[w].printable_tickets(now) for w in wallet_ids}
            if empty := [w for w, tickets in chosen.items() if not tickets]:
                raise Refusal("NO_CREDITED_TICKET",
                              "Certains élèves n'ont aucun ticket crédité à imprimer : retirez-les de la liste.",
                              {"wallet_ids": [str(w) for w in empty]})
            affiliates = await uow.affiliates.of(t.affiliate_id for ts in chosen.values() for t in ts)
            await uow.acts.record([act for w, tickets in chosen.items()
                                   for act in acts_for(actor, w, Action.PRINT, tickets, now)])
        return [Shown(found[w], now, True, affiliates, chosen[w]) for w in wallet_ids]


async def _sheet_of(uow: WalletUnitOfWork, actor: Principal, wallet_id: UUID, right: Right,
                    positions: Sequence[int] | None, now: datetime) -> tuple[Access, list[Ticket]]:
    """The wallet as `actor` may reach it with `right`, and the credited tickets a sheet of it shows (the
    positions asked, or every credited one)."""
    access = await wallet_for(uow, actor, wallet_id, right)
    return access, access.wallet.sheet_tickets(positions, now=now)
