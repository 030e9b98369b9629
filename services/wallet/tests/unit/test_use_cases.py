"""The wallet's use cases on an in-memory unit of work: what each command changes, what it
publishes, who may do it, and that a refusal changes and publishes nothing."""

from __future__ import annotations

import uuid
from datetime import date

from carnet_contracts import ticket_code
from carnet_contracts.events import (
    Guardian,
    PassGrantedV1,
    Student,
    TicketCredited,
    TicketVoidRequested,
    WalletCreated,
)
from carnet_runtime.auth import Principal
from wallet.application import AssignTicket, CreditTicket
from wallet.domain import Action, TicketStatus

from .conftest import ADMIN, CORRESPONDENT, FAMILY, KEY, NOTIFICATION, NOW, SCHOOL, VALID_UNTIL, a_wallet, credited, \
    granted, refused, stored


async def test_a_granted_pass_opens_one_wallet_of_blank_tickets_however_often_it_arrives(uow, use_cases):
    event = granted()
    wallet = await use_cases.pass_granted(uow, event)
    assert [t.status for t in wallet.tickets] == [TicketStatus.BLANK] * 7
    assert await use_cases.pass_granted(uow, event) is None
    assert [type(e) for e in uow.committed] == [WalletCreated]
    assert not wallet.paper


async def test_a_version_1_pass_granted_still_on_the_topic_opens_a_wallet_too(uow, use_cases):
    v1 = PassGrantedV1(
        application_id="app-v1", campaign_id="2026-2027", campaign_label="Pass 2026-2027", school_id=SCHOOL,
        family_sub=None, student=Student(last_name="Martin", first_name="Léa", birth_date=date(2014, 5, 4), level="5e"),
        guardian=Guardian(last_name="Martin", first_name="Anne", email="anne@example.org", phone="0600000000"),
        allowance_cents=7000, tickets_per_pass=7, ticket_min_cents=500, ticket_max_cents=7000,
        pass_valid_until=VALID_UNTIL, validated_at=NOW,
    )
    wallet = await use_cases.pass_granted(uow, v1)
    assert wallet.paper and wallet.student.first_name == "Léa" and wallet.guardian_email == "anne@example.org"


async def test_crediting_publishes_the_codes_keyed_hash_never_the_code(uow, use_cases):
    wallet = await a_wallet(uow, use_cases)
    ticket = wallet.tickets[0]
    shown = await use_cases.credit(uow, FAMILY, CreditTicket(wallet.wallet_id, ticket.ticket_id, 1000))
    code = shown.tickets[0].code
    [event] = uow.committed
    assert isinstance(event, TicketCredited)
    assert event.code_hash == ticket_code.code_hash(code, KEY) and code not in event.model_dump_json()
    kept = await uow.wallets.get(wallet.wallet_id)
    assert (kept.tickets[0].status, kept.credited_cents) == (TicketStatus.CREDITED, 1000)
    assert uow.acts.recorded == [], "a family acting on its own wallet is not acting for someone else"


async def test_a_refused_credit_changes_and_publishes_nothing(uow, use_cases):
    wallet = await a_wallet(uow, use_cases)
    refusal = await refused(use_cases.credit(uow, FAMILY, CreditTicket(wallet.wallet_id, wallet.tickets[0].ticket_id, 7001)))
    assert refusal.code == "AMOUNT_OUT_OF_RANGE"
    assert uow.committed == [] and (await uow.wallets.get(wallet.wallet_id)).credited_cents == 0


async def test_another_family_is_told_the_wallet_does_not_exist(uow, use_cases):
    wallet = await a_wallet(uow, use_cases)
    stranger = Principal(sub="family-2", role="family")
    for attempt in (use_cases.show(uow, stranger, wallet.wallet_id),
                    use_cases.credit(uow, stranger, CreditTicket(wallet.wallet_id, wallet.tickets[0].ticket_id, 1000))):
        assert (await refused(attempt)).code == "WALLET_UNKNOWN"


# -- paper wallets -----------------------------------------------------------------------------------


async def test_the_schools_correspondent_has_every_right_of_the_owner_on_a_paper_wallet_each_act_recorded(
        uow, use_cases):
    wallet = await a_wallet(uow, use_cases, family_sub=None)
    assert wallet.paper and wallet.owner_sub is None
    [(first, code)] = await credited(uow, use_cases, wallet, 1, actor=CORRESPONDENT)
    [(second, _)] = await credited(uow, use_cases, wallet, 2, actor=ADMIN)
    shown = await use_cases.show(uow, CORRESPONDENT, wallet.wallet_id)
    assert shown.with_codes and shown.wallet.tickets[0].code == code
    await use_cases.assign(uow, CORRESPONDENT, AssignTicket(wallet.wallet_id, first, None))
    await use_cases.sheet(uow, CORRESPONDENT, wallet.wallet_id, [1])
    await use_cases.email_sheet(uow, CORRESPONDENT, wallet.wallet_id, None)
    await use_cases.request_replace(uow, CORRESPONDENT, wallet.wallet_id, second)
    await use_cases.request_void(uow, CORRESPONDENT, wallet.wallet_id, first)
    acts = [(a.action, a.actor_role, a.actor_sub, a.ticket_id) for a in uow.acts.recorded]
    assert acts == [
        (Action.CREDIT, "correspondent", "corr-1", first), (Action.CREDIT, "admin", "admin-1", second),
        (Action.ASSIGN, "correspondent", "corr-1", first), (Action.PRINT, "correspondent", "corr-1", first),
        (Action.EMAIL, "correspondent", "corr-1", first), (Action.EMAIL, "correspondent", "corr-1", second),
        (Action.REPLACE, "correspondent", "corr-1", second), (Action.VOID, "correspondent", "corr-1", first),
    ]
    assert all(a.acted_at == NOW for a in uow.acts.recorded)
    assert uow.acts.recorded[0].detail == {"amount_cents": 1000}


async def test_a_correspondent_never_gets_the_owners_rights_on_an_online_familys_wallet_only_print(uow, use_cases):
    wallet = await a_wallet(uow, use_cases)
    [(ticket_id, _)] = await credited(uow, use_cases, wallet, 1)
    for attempt in (use_cases.show(uow, CORRESPONDENT, wallet.wallet_id),
                    use_cases.credit(uow, CORRESPONDENT, CreditTicket(wallet.wallet_id, wallet.tickets[1].ticket_id, 500)),
                    use_cases.request_void(uow, CORRESPONDENT, wallet.wallet_id, ticket_id),
                    use_cases.request_replace(uow, ADMIN, wallet.wallet_id, ticket_id),
                    use_cases.email_sheet(uow, ADMIN, wallet.wallet_id, None)):
        assert (await refused(attempt)).code == "NOT_A_PAPER_WALLET"
    assert len((await use_cases.sheet(uow, CORRESPONDENT, wallet.wallet_id, None)).tickets) == 1
    admin_view = await use_cases.show(uow, ADMIN, wallet.wallet_id)
    assert not admin_view.with_codes
    assert [a.action for a in uow.acts.recorded] == [Action.PRINT]


async def test_a_correspondent_of_another_school_has_no_right_on_a_paper_wallet(uow, use_cases):
    wallet = await a_wallet(uow, use_cases, family_sub=None)
    other = Principal(sub="c2", role="correspondent", school_id="0920002B")
    for attempt in (use_cases.show(uow, other, wallet.wallet_id), use_cases.sheet(uow, other, wallet.wallet_id, None),
                    use_cases.credit(uow, other, CreditTicket(wallet.wallet_id, wallet.tickets[0].ticket_id, 500))):
        assert (await refused(attempt)).code == "OTHER_SCHOOL"


async def test_no_family_account_owns_a_paper_wallet(uow, use_cases):
    wallet = await a_wallet(uow, use_cases, family_sub=None)
    assert (await refused(use_cases.show(uow, FAMILY, wallet.wallet_id))).code == "WALLET_UNKNOWN"


async def test_only_the_notification_service_fetches_a_sheet_with_a_service_token(uow, use_cases):
    wallet = await a_wallet(uow, use_cases)
    await credited(uow, use_cases, wallet, 1)
    assert len((await use_cases.sheet(uow, NOTIFICATION, wallet.wallet_id, [1])).tickets) == 1
    refusal = await refused(use_cases.sheet(uow, Principal(sub="enrolment", role="service"), wallet.wallet_id, [1]))
    assert refusal.code == "FORBIDDEN"
    assert uow.acts.recorded == []


async def test_a_school_prints_several_pupils_at_once_a_page_each_recorded_for_each_family(uow, use_cases):
    paper = await a_wallet(uow, use_cases, family_sub=None)
    online = await a_wallet(uow, use_cases)
    await credited(uow, use_cases, paper, 1, 2, actor=CORRESPONDENT)
    await credited(uow, use_cases, online, 3)
    uow.acts.recorded.clear()
    shown = await use_cases.school_sheet(uow, CORRESPONDENT, SCHOOL, [online.wallet_id, paper.wallet_id])
    assert [(s.wallet.wallet_id, [t.position for t in s.tickets]) for s in shown] == [
        (online.wallet_id, [3]), (paper.wallet_id, [1, 2])]
    assert [(a.wallet_id, a.action) for a in uow.acts.recorded] == [
        (online.wallet_id, Action.PRINT), (paper.wallet_id, Action.PRINT), (paper.wallet_id, Action.PRINT)]


async def test_a_schools_print_refuses_unknown_other_schools_and_empty_wallets_naming_them(uow, use_cases):
    paper = await a_wallet(uow, use_cases, family_sub=None)
    empty = await a_wallet(uow, use_cases, family_sub=None)
    elsewhere = await a_wallet(uow, use_cases, family_sub=None, school_id="0920002B")
    await credited(uow, use_cases, paper, 1, actor=CORRESPONDENT)
    unknown = uuid.uuid4()
    refusal = await refused(use_cases.school_sheet(uow, CORRESPONDENT, SCHOOL, [paper.wallet_id, unknown]))
    assert (refusal.code, refusal.details) == ("WALLET_UNKNOWN", {"wallet_id": str(unknown)})
    refusal = await refused(use_cases.school_sheet(uow, CORRESPONDENT, SCHOOL, [elsewhere.wallet_id]))
    assert (refusal.code, refusal.details["wallet_ids"]) == ("OTHER_SCHOOL", [str(elsewhere.wallet_id)])
    refusal = await refused(use_cases.school_sheet(uow, CORRESPONDENT, SCHOOL, [paper.wallet_id, empty.wallet_id]))
    assert (refusal.code, refusal.details["wallet_ids"]) == ("NO_CREDITED_TICKET", [str(empty.wallet_id)])
    refusal = await refused(use_cases.school_sheet(uow, CORRESPONDENT, "0920002B", [elsewhere.wallet_id]))
    assert refusal.code == "OTHER_SCHOOL"
    assert (await refused(use_cases.school_sheet(uow, FAMILY, SCHOOL, [paper.wallet_id]))).code == "FORBIDDEN"


# -- assigning and voiding ----------------------------------------------------------------------------


async def test_assigning_to_an_affiliate_the_wallet_does_not_know_as_active_is_refused(uow, use_cases):
    wallet = await a_wallet(uow, use_cases)
    [(ticket_id, _)] = await credited(uow, use_cases, wallet, 1)
    await use_cases.affiliate_activated(uow, "club-1", "Club de judo")
    await use_cases.affiliate_suspended(uow, "club-2")
    assigned = await use_cases.assign(uow, FAMILY, AssignTicket(wallet.wallet_id, ticket_id, "club-1"))
    assert assigned.tickets[0].affiliate_id == "club-1"
    refusal = await refused(use_cases.assign(uow, FAMILY, AssignTicket(wallet.wallet_id, ticket_id, "club-2")))
    assert refusal.code == "AFFILIATE_NOT_ACTIVE"


async def test_a_voided_ticket_is_blank_again_and_crediting_it_gives_a_new_code(uow, use_cases):
    wallet = await a_wallet(uow, use_cases)
    [(ticket_id, old_code)] = await credited(uow, use_cases, wallet, 1, amount=3000)
    shown = await use_cases.request_void(uow, FAMILY, wallet.wallet_id, ticket_id)
    assert shown.tickets[0].status is TicketStatus.VOID_PENDING
    assert [type(e) for e in uow.committed] == [TicketVoidRequested]
    assert await use_cases.ticket_changed(uow, str(wallet.wallet_id), str(ticket_id), lambda w, t: w.ticket_voided(t))
    blank = await uow.wallets.get(wallet.wallet_id)
    assert (blank.tickets[0].status, blank.tickets[0].code, blank.remaining_cents) == (TicketStatus.BLANK, None, 7000)
    uow.committed.clear()
    again = await use_cases.credit(uow, FAMILY, CreditTicket(wallet.wallet_id, ticket_id, 7000))
    new_code = again.tickets[0].code
    [event] = uow.committed
    assert new_code != old_code and event.ticket_id == str(ticket_id)
    assert event.code_hash == ticket_code.code_hash(new_code, KEY) != ticket_code.code_hash(old_code, KEY)
    assert not await use_cases.ticket_changed(uow, "not-a-uuid", str(ticket_id), lambda w, t: True)


async def test_an_anonymised_paper_wallet_cannot_be_acted_on_any_more(uow, use_cases):
    wallet = await a_wallet(uow, use_cases, family_sub=None)
    await use_cases.purge_campaign(uow, "2026-2027")
    refusal = await refused(use_cases.credit(uow, CORRESPONDENT, CreditTicket(wallet.wallet_id, wallet.tickets[0].ticket_id, 500)))
    assert refusal.code == "WALLET_ERASED"


async def test_the_family_keeps_its_rights_and_its_codes(uow, use_cases):
    wallet = await a_wallet(uow, use_cases)
    [(ticket_id, code)] = await credited(uow, use_cases, wallet, 1)
    shown = await use_cases.show(uow, FAMILY, wallet.wallet_id)
    assert shown.with_codes and (await stored(uow, wallet.wallet_id, 1)).code == code
