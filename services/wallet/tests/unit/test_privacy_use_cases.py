"""A family's export, a guardian's erasure, the campaign's purge, the expiry reminder and the
figures' commitments, on the in-memory unit of work."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from carnet_contracts.events import GuardianErasureRequested, PassExpiryReminderDue
from carnet_runtime.auth import Principal
from wallet.domain import Action
from wallet.privacy_views import export_view

from .conftest import ADMIN, CORRESPONDENT, FAMILY, NOW, a_wallet, credited, refused


async def test_a_familys_export_holds_its_wallets_and_the_acts_done_for_it_never_another_familys(uow, use_cases):
    mine = await a_wallet(uow, use_cases)
    await a_wallet(uow, use_cases, family_sub="family-2", email="autre@example.org")
    [(ticket_id, code)] = await credited(uow, use_cases, mine, 1)
    await use_cases.sheet(uow, ADMIN, mine.wallet_id, None)
    found = await use_cases.export(uow, FAMILY, None)
    assert [w.wallet_id for w in found.wallets] == [mine.wallet_id]
    assert [(a.action, a.actor_role, a.ticket_id) for a in found.acts] == [(Action.PRINT, "admin", ticket_id)]
    document = export_view(found).model_dump_json()
    assert code not in document and code[-4:] in document, "only the code's suffix is exported"
    assert "autre@example.org" not in document


async def test_the_admin_exports_by_the_guardians_email_a_family_never_asks_for_someone_elses(uow, use_cases):
    paper = await a_wallet(uow, use_cases, family_sub=None, email="Paper.Family@example.org")
    found = await use_cases.export(uow, ADMIN, "paper.family@example.org")
    assert [w.wallet_id for w in found.wallets] == [paper.wallet_id]
    assert (await refused(use_cases.export(uow, FAMILY, "paper.family@example.org"))).code == "FORBIDDEN"
    assert (await refused(use_cases.export(uow, ADMIN, None))).code == "VALIDATION_ERROR"
    assert (await refused(use_cases.export(uow, CORRESPONDENT, None))).code == "FORBIDDEN"


async def test_an_erasure_anonymises_the_guardians_wallets_and_forgets_their_outbox_rows(uow, use_cases):
    erased = await a_wallet(uow, use_cases, family_sub=None)
    by_account = await a_wallet(uow, use_cases, family_sub="family-9")
    kept = await a_wallet(uow, use_cases)
    await credited(uow, use_cases, erased, 1, actor=CORRESPONDENT)
    await use_cases.email_sheet(uow, CORRESPONDENT, erased.wallet_id, None)
    event = GuardianErasureRequested(erasure_id="e-1", application_ids=[], wallet_ids=[str(erased.wallet_id), "nope"],
                                     family_subs=["family-9"], campaign_ids=["2026-2027"], requested_at=NOW)
    assert await use_cases.erase(uow, event) == 2
    for wallet_id in (erased.wallet_id, by_account.wallet_id):
        gone = await uow.wallets.get(wallet_id)
        assert (gone.student.last_name, gone.guardian_email, gone.owner_sub) == ("", "", None)
        assert gone.anonymised_at == NOW and all(t.code is None for t in gone.tickets)
    assert (await uow.wallets.get(erased.wallet_id)).credited_cents == 1000, "amounts stay"
    assert (await uow.wallets.get(kept.wallet_id)).guardian_email == "anne.martin@example.org"
    assert {a.actor_sub for a in uow.acts.recorded} == {None}
    assert uow.snapshots.by_id == {}
    assert str(erased.wallet_id) in uow.outbox_rows.forgotten
    assert {str(t.ticket_id) for t in erased.tickets} <= set(uow.outbox_rows.forgotten)
    assert str(kept.wallet_id) not in uow.outbox_rows.forgotten


async def test_the_purge_anonymises_the_campaigns_wallets_only_and_keeps_its_figures(uow, use_cases):
    purged = await a_wallet(uow, use_cases)
    later = await a_wallet(uow, use_cases, campaign_id="2027-2028")
    pairs = await credited(uow, use_cases, purged, 1, 2, 3)
    await use_cases.ticket_changed(uow, str(purged.wallet_id), str(pairs[0][0]),
                                   lambda w, t: w.ticket_redeemed(t, redeemed_at=NOW, affiliate_id="club-1"))
    as_of = date(2027, 6, 1)
    before = (await use_cases.figures(uow, "2026-2027", as_of)).commitments
    assert await use_cases.purge_campaign(uow, "2026-2027") == 1
    after = (await use_cases.figures(uow, "2026-2027", as_of)).commitments
    assert after == before and (after.redeemed_cents, after.expired_unspent_cents) == (1000, 2000)
    assert (await uow.wallets.get(purged.wallet_id)).student.first_name == ""
    assert (await uow.wallets.get(later.wallet_id)).student.first_name == "Léa"


# -- the expiry reminder ------------------------------------------------------------------------------


async def test_one_reminder_per_wallet_a_set_number_of_days_before_the_end_while_money_is_left(uow, use_cases, clock):
    ends = date(2027, 3, 31)
    with_money = await a_wallet(uow, use_cases, valid_until=ends)
    spent = await a_wallet(uow, use_cases, valid_until=ends, allowance=1000)
    later = await a_wallet(uow, use_cases, valid_until=ends + timedelta(days=30))
    [(ticket_id, _)] = await credited(uow, use_cases, spent, 1)
    await use_cases.ticket_changed(uow, str(spent.wallet_id), str(ticket_id),
                                   lambda w, t: w.ticket_redeemed(t, redeemed_at=NOW))
    await credited(uow, use_cases, with_money, 1, amount=3000)
    clock.now = datetime(2027, 3, 16, 12, 0, tzinfo=UTC)  # 15 days before the end
    assert await use_cases.remind_expiring(uow, 14) == 0
    clock.now = datetime(2027, 3, 17, 12, 0, tzinfo=UTC)  # 14 days before
    assert await use_cases.remind_expiring(uow, 14) == 1
    [reminder] = uow.committed
    assert isinstance(reminder, PassExpiryReminderDue) and reminder.wallet_id == str(with_money.wallet_id)
    assert (reminder.credited_unspent_cents, reminder.remaining_cents, reminder.valid_until) == (3000, 4000, ends)
    assert await use_cases.remind_expiring(uow, 14) == 0, "once per wallet"
    assert set(uow.wallets.reminded) == {with_money.wallet_id}
    assert later.wallet_id not in uow.wallets.reminded


async def test_no_reminder_once_the_pass_has_ended(uow, use_cases, clock):
    await a_wallet(uow, use_cases, valid_until=date(2027, 3, 31))
    clock.now = datetime(2027, 3, 31, 22, 30, tzinfo=UTC)  # 00:30 on 1 April in Paris
    assert await use_cases.remind_expiring(uow, 14) == 0


async def test_the_figures_commitments_are_as_of_a_paris_day(uow, use_cases, clock):
    wallet = await a_wallet(uow, use_cases)
    pairs = await credited(uow, use_cases, wallet, 1, 2)
    redeemed_on = datetime(2027, 1, 10, 23, 30, tzinfo=UTC)  # 00:30 on 11 January in Paris
    await use_cases.ticket_changed(uow, str(wallet.wallet_id), str(pairs[0][0]),
                                   lambda w, t: w.ticket_redeemed(t, redeemed_at=redeemed_on))
    on_10th = (await use_cases.figures(uow, None, date(2027, 1, 10))).commitments
    on_11th = (await use_cases.figures(uow, None, date(2027, 1, 11))).commitments
    assert (on_10th.outstanding_cents, on_10th.redeemed_cents) == (2000, 0)
    assert (on_11th.outstanding_cents, on_11th.redeemed_cents) == (1000, 1000)
    assert [(s.valid_until, s.cents) for s in on_11th.by_valid_until] == [(date(2027, 3, 31), 1000)]
    clock.now = datetime(2027, 1, 11, 9, 0, tzinfo=UTC)
    assert (await use_cases.figures(uow, None)).commitments.as_of == date(2027, 1, 11), "today in Paris by default"
    before_credit = (await use_cases.figures(uow, None, date(2026, 11, 30))).commitments
    assert before_credit.credited_cents == 0


async def test_a_family_unknown_to_the_wallet_exports_nothing(uow, use_cases):
    await a_wallet(uow, use_cases)
    found = await use_cases.export(uow, Principal(sub=f"family-{uuid.uuid4()}", role="family"), None)
    assert (found.wallets, found.acts, found.emails) == ([], [], [])
