"""Replacing a lost ticket, the redemption service's answers, and ticket e-mails that carry the
sheet as it was when asked, on the in-memory unit of work."""

from __future__ import annotations

import uuid
from datetime import timedelta

from carnet_contracts import ticket_code
from carnet_contracts.events import TicketReplaced, TicketReplaceRequested, TicketsEmailRequested
from carnet_runtime.auth import Principal
from wallet.application import AssignTicket
from wallet.domain import TicketStatus

from .conftest import CORRESPONDENT, FAMILY, KEY, NOTIFICATION, NOW, a_wallet, credited, refused, stored


def replaced(wallet, ticket_id) -> TicketReplaced:
    return TicketReplaced(ticket_id=str(ticket_id), wallet_id=str(wallet.wallet_id), campaign_id="2026-2027",
                          replaced_at=NOW)


async def test_a_replacement_keeps_the_new_code_pending_and_sends_only_its_hash(uow, use_cases):
    wallet = await a_wallet(uow, use_cases)
    [(ticket_id, old_code)] = await credited(uow, use_cases, wallet, 1)
    shown = await use_cases.request_replace(uow, FAMILY, wallet.wallet_id, ticket_id)
    ticket = shown.tickets[0]
    assert ticket.status is TicketStatus.REPLACE_PENDING and ticket.code == old_code
    [event] = uow.committed
    assert isinstance(event, TicketReplaceRequested)
    assert event.new_code_hash == ticket_code.code_hash(ticket.pending_code, KEY)
    assert event.new_code_suffix == ticket.pending_code[-4:]
    assert ticket.pending_code not in event.model_dump_json() and old_code not in event.model_dump_json()
    assert (await uow.wallets.get(wallet.wallet_id)).credited_cents == 1000, "a replacement keeps the amount"


async def test_once_replaced_the_new_code_is_the_tickets_and_the_guardian_gets_the_new_sheet(uow, use_cases):
    wallet = await a_wallet(uow, use_cases)
    await use_cases.affiliate_activated(uow, "club-1", "Club de judo")
    [(ticket_id, old_code)] = await credited(uow, use_cases, wallet, 1)
    await use_cases.assign(uow, FAMILY, AssignTicket(wallet.wallet_id, ticket_id, "club-1"))
    pending = (await use_cases.request_replace(uow, FAMILY, wallet.wallet_id, ticket_id)).tickets[0].pending_code
    uow.committed.clear()
    assert await use_cases.ticket_replaced(uow, replaced(wallet, ticket_id))
    ticket = await stored(uow, wallet.wallet_id, 1)
    assert (ticket.status, ticket.code, ticket.pending_code) == (TicketStatus.CREDITED, pending, None)
    assert (ticket.amount_cents, ticket.affiliate_id) == (1000, "club-1")
    [mail] = uow.committed
    assert isinstance(mail, TicketsEmailRequested) and (mail.reason, mail.positions) == ("replaced", [1])
    emailed = await use_cases.emailed_sheet(uow, NOTIFICATION, wallet.wallet_id, uuid.UUID(mail.request_id))
    [printed] = emailed.snapshot.tickets
    assert (printed.code, printed.affiliate_name) == (pending, "Club de judo") and printed.code != old_code
    assert not await use_cases.ticket_replaced(uow, replaced(wallet, ticket_id)), "redelivered: nothing twice"


async def test_a_replacement_refused_because_the_ticket_was_redeemed_leaves_it_redeemed_with_the_reason(uow, use_cases):
    wallet = await a_wallet(uow, use_cases)
    [(ticket_id, old_code)] = await credited(uow, use_cases, wallet, 1)
    await use_cases.request_replace(uow, FAMILY, wallet.wallet_id, ticket_id)
    assert await use_cases.ticket_changed(uow, str(wallet.wallet_id), str(ticket_id), lambda w, t: w.replace_refused(
        t, "Ce ticket a été utilisé avant son remplacement.", redeemed_at=NOW, affiliate_id="club-1"))
    ticket = await stored(uow, wallet.wallet_id, 1)
    assert (ticket.status, ticket.redeemed_at, ticket.redeemed_by) == (TicketStatus.REDEEMED, NOW, "club-1")
    assert ticket.pending_code is None and ticket.code == old_code
    assert ticket.replace_refusal_reason == "Ce ticket a été utilisé avant son remplacement."


async def test_a_redemption_that_won_the_race_then_the_refusal_keep_the_ticket_redeemed(uow, use_cases):
    wallet = await a_wallet(uow, use_cases)
    [(ticket_id, _)] = await credited(uow, use_cases, wallet, 1)
    await use_cases.request_replace(uow, FAMILY, wallet.wallet_id, ticket_id)
    assert await use_cases.ticket_changed(uow, str(wallet.wallet_id), str(ticket_id), lambda w, t: w.ticket_redeemed(
        t, redeemed_at=NOW, affiliate_id="club-2"))
    assert not await use_cases.ticket_replaced(uow, replaced(wallet, ticket_id))
    assert await use_cases.ticket_changed(uow, str(wallet.wallet_id), str(ticket_id), lambda w, t: w.replace_refused(
        t, "déjà utilisé", redeemed_at=NOW, affiliate_id="club-2"))
    ticket = await stored(uow, wallet.wallet_id, 1)
    assert (ticket.status, ticket.redeemed_by, ticket.pending_code) == (TicketStatus.REDEEMED, "club-2", None)


async def test_only_a_credited_ticket_is_replaced(uow, use_cases):
    wallet = await a_wallet(uow, use_cases)
    refusal = await refused(use_cases.request_replace(uow, FAMILY, wallet.wallet_id, wallet.tickets[0].ticket_id))
    assert refusal.code == "TICKET_NOT_CREDITED" and uow.committed == []


async def test_an_admins_late_cancellation_then_void_makes_the_ticket_blank_and_redeemable_makes_it_credited(
        uow, use_cases):
    wallet = await a_wallet(uow, use_cases)
    pairs = await credited(uow, use_cases, wallet, 1, 2, amount=2000)
    for ticket_id, _ in pairs:
        await use_cases.ticket_changed(uow, str(wallet.wallet_id), str(ticket_id),
                                       lambda w, t: w.ticket_redeemed(t, redeemed_at=NOW, affiliate_id="club-1"))
    (voided, _), (again, code) = pairs
    await use_cases.ticket_changed(uow, str(wallet.wallet_id), str(voided),
                                   lambda w, t: w.redemption_cancelled(t, then_void=True))
    assert (await stored(uow, wallet.wallet_id, 1)).status is TicketStatus.VOID_PENDING
    await use_cases.ticket_changed(uow, str(wallet.wallet_id), str(voided), lambda w, t: w.ticket_voided(t))
    await use_cases.ticket_changed(uow, str(wallet.wallet_id), str(again),
                                   lambda w, t: w.redemption_cancelled(t, then_void=False))
    kept = await uow.wallets.get(wallet.wallet_id)
    assert (kept.tickets[0].status, kept.tickets[0].amount_cents) == (TicketStatus.BLANK, None)
    assert (kept.tickets[1].status, kept.tickets[1].code, kept.tickets[1].redeemed_by) == (TicketStatus.CREDITED, code, None)
    assert kept.remaining_cents == 5000


# -- ticket e-mails ---------------------------------------------------------------------------------


async def test_a_ticket_email_carries_the_sheet_as_asked_even_once_a_ticket_on_it_is_redeemed(uow, use_cases):
    wallet = await a_wallet(uow, use_cases)
    pairs = await credited(uow, use_cases, wallet, 1, 2)
    requested = await use_cases.email_sheet(uow, FAMILY, wallet.wallet_id, None)
    [event] = uow.committed
    assert event.request_id == requested.request_id and event.reason == "requested"
    await use_cases.ticket_changed(uow, str(wallet.wallet_id), str(pairs[0][0]),
                                   lambda w, t: w.ticket_redeemed(t, redeemed_at=NOW))
    emailed = await use_cases.emailed_sheet(uow, NOTIFICATION, wallet.wallet_id, uuid.UUID(requested.request_id))
    assert [(t.position, t.code) for t in emailed.snapshot.tickets] == [(1, pairs[0][1]), (2, pairs[1][1])]


async def test_an_emailed_sheet_is_for_the_notification_service_and_its_own_wallet_only(uow, use_cases):
    wallet = await a_wallet(uow, use_cases)
    other = await a_wallet(uow, use_cases, family_sub="family-2")
    await credited(uow, use_cases, wallet, 1)
    request_id = uuid.UUID((await use_cases.email_sheet(uow, FAMILY, wallet.wallet_id, None)).request_id)
    assert (await refused(use_cases.emailed_sheet(uow, FAMILY, wallet.wallet_id, request_id))).code == "FORBIDDEN"
    refusal = await refused(use_cases.emailed_sheet(uow, NOTIFICATION, other.wallet_id, request_id))
    assert refusal.code == "EMAIL_REQUEST_UNKNOWN"
    stranger = Principal(sub="enrolment", role="service", scopes=("wallet.tickets_pdf",))
    assert (await refused(use_cases.emailed_sheet(uow, stranger, wallet.wallet_id, request_id))).code == "FORBIDDEN"


async def test_snapshots_older_than_the_retention_are_forgotten(uow, use_cases, clock):
    wallet = await a_wallet(uow, use_cases)
    await credited(uow, use_cases, wallet, 1)
    old = uuid.UUID((await use_cases.email_sheet(uow, FAMILY, wallet.wallet_id, None)).request_id)
    clock.now = NOW + timedelta(days=20)
    recent = uuid.UUID((await use_cases.email_sheet(uow, FAMILY, wallet.wallet_id, None)).request_id)
    clock.now = NOW + timedelta(days=31)
    assert await use_cases.forget_old_snapshots(uow, 30) == 1
    assert (await refused(use_cases.emailed_sheet(uow, NOTIFICATION, wallet.wallet_id, old))).code == "EMAIL_REQUEST_UNKNOWN"
    assert (await use_cases.emailed_sheet(uow, NOTIFICATION, wallet.wallet_id, recent)).snapshot.tickets


async def test_a_correspondent_emails_a_paper_familys_tickets(uow, use_cases):
    wallet = await a_wallet(uow, use_cases, family_sub=None)
    await credited(uow, use_cases, wallet, 1, actor=CORRESPONDENT)
    requested = await use_cases.email_sheet(uow, CORRESPONDENT, wallet.wallet_id, [1])
    [event] = uow.committed
    assert event.guardian_email == "anne.martin@example.org" and requested.positions == [1]
