"""Issue 15, must show: an organisation's IBAN changed with the code e-mailed to its contact is paid
by the next reimbursement batch, while a batch made before keeps the old IBAN in its SEPA file; the
admin cancels a redemption after its grace period (with a reason; the ticket redeemable again or
voided), is refused once the redemption is in a batch, and the organisation is told by e-mail."""

from __future__ import annotations

import asyncio
import random

import pytest

from carnet_contracts import topics
from carnet_local.season import iban_for

from .driver import Carnet

pytestmark = pytest.mark.integration


async def test_an_iban_changed_with_the_emailed_code_is_paid_by_the_next_batch_while_an_earlier_batch_keeps_the_old_one(
        carnet: Carnet):
    async with carnet.play(schools=1, affiliates=1, redemption_cancel_grace_minutes=0) as play:
        counter = play.affiliates[0]
        contact = play.contact(counter)
        pupil = await play.granted(play.schools[0])
        first, second = await play.credit(pupil, 1000, 2000)
        await play.redemption_ready()
        await play.redeemed(first["code"], counter)
        await play.statement_holds(counter, 1)
        before = await play.batch()
        [old_iban] = await play.sepa_ibans(before["batch_id"])
        assert old_iban.endswith(before["transfers"][0]["iban"][-4:])

        new_iban = iban_for(random.Random(play.season.run_id + "-new-bank"))
        changed = await play.change_iban(counter, new_iban)
        assert changed["iban"].endswith(new_iban[-4:])
        code_mail = carnet.mail.to(contact, "confirmer le changement d'IBAN")[-1]
        assert new_iban not in code_mail.text and new_iban[-4:] in code_mail.text, "the e-mail shows the suffix only"
        await carnet.mail.wait(contact, "nouvel IBAN enregistré")

        await play.redeemed(second["code"], counter)
        await play.statement_holds(counter, 2)
        after = await play.batch()
        assert (after["count"], after["total_cents"]) == (1, 2000)
        assert await play.sepa_ibans(after["batch_id"]) == [new_iban]
        assert await play.sepa_ibans(before["batch_id"]) == [old_iban], "the earlier batch keeps the IBAN it was made with"
        trail = (await play.call("GET", "affiliation", f"/v1/affiliates/{counter.affiliate_id}/audit-trail",
                                 headers=play.admin)).json()["items"]
        changes = [e for e in trail if e["action"].startswith("iban_change")]
        assert changes and all(old_iban not in str(e) and new_iban not in str(e) for e in changes), changes
        print(f"\n  IBAN …{old_iban[-4:]} -> …{new_iban[-4:]} confirmed with the code e-mailed to {contact}; "
              f"batch {before['batch_id'][:8]} still pays …{old_iban[-4:]}, batch {after['batch_id'][:8]} pays "
              f"…{new_iban[-4:]}; audit trail: {[e['action'] for e in changes]}")


async def test_the_admin_cancels_a_redemption_after_its_grace_period_with_a_reason_is_refused_once_it_is_batched_and_the_organisation_is_told(
        carnet: Carnet):
    async with carnet.play(schools=1, affiliates=1, redemption_cancel_grace_minutes=0) as play:
        counter = play.affiliates[0]
        contact = play.contact(counter)
        pupil = await play.granted(play.schools[0])
        again, voided, batched = await play.credit(pupil, 1000, 2000, 3000)
        await play.redemption_ready()
        redeemed = {t["ticket_id"]: await play.redeemed(t["code"], counter) for t in (again, voided)}
        url = "/v1/redemptions/{}/cancel".format

        own = await play.refused("POST", "redemption", url(redeemed[again["ticket_id"]]["redemption_id"]),
                                 "CANCEL_PERIOD_OVER", headers=play.counter(counter))
        await play.refused("POST", "redemption", url(redeemed[again["ticket_id"]]["redemption_id"]), "VALIDATION_ERROR",
                           json={"then": "redeemable"}, headers=play.admin)
        reasons = {"redeemable": "Ticket encaissé par erreur deux fois au guichet",
                   "void": "Ticket signalé volé par la famille avant l'encaissement"}
        for ticket, then in ((again, "redeemable"), (voided, "void")):
            done = (await play.call("POST", "redemption", url(redeemed[ticket["ticket_id"]]["redemption_id"]),
                                    json={"reason": reasons[then], "then": then}, headers=play.admin)).json()
            assert (done["status"], done["cancelled_by_role"], done["cancel_reason"], done["cancel_then"]) == \
                ("cancelled", "admin", reasons[then], then)
        back = await play.ticket_status(pupil, again["ticket_id"], "credited")
        assert back["code"] == again["code"] and back["redeemed_at"] is None
        assert (await play.http.get(play.url("redemption", f"/v1/tickets/{again['code']}"),
                                    headers=play.counter(counter))).json()["redeemable"] is True
        await play.ticket_status(pupil, voided["ticket_id"], "blank")
        assert await play.redeem_refused(voided["code"]) == "TICKET_VOIDED"
        told = await carnet.mail.wait(contact, "le Département a annulé", count=2)
        assert {r for r in reasons.values() if any(r in m.text for m in told)} == set(reasons.values())

        await play.redeemed(batched["code"], counter)
        await play.caught_up("affiliation", topics.REDEMPTION_REDEMPTIONS)
        statement = await play.statement(counter)
        assert sorted(r["status"] for r in statement["redemptions"]) == ["cancelled", "cancelled", "pending"]
        batch = await play.batch()
        assert (batch["count"], batch["total_cents"]) == (1, 3000)
        await play.caught_up("redemption", topics.AFFILIATION_REIMBURSEMENTS)
        late = [r for r in statement["redemptions"] if r["status"] == "pending"][0]["redemption_id"]
        refused = await play.refused("POST", "redemption", url(late), "REDEMPTION_IN_REIMBURSEMENT_BATCH",
                                     json={"reason": "Trop tard", "then": "void"}, headers=play.admin)
        assert refused.status_code == 409
        print(f"\n  the organisation's own cancel: {own.json()['error']['code']}; the admin cancelled two redemptions "
              f"(then redeemable, then void), the organisation told ({len(told)} e-mails: « {told[0].subject} »); "
              f"once batched: {refused.json()['error']['code']}")


async def test_an_admin_cancel_racing_a_reimbursement_batch_never_leaves_a_cancelled_redemption_in_the_batch(
        carnet: Carnet):
    async with carnet.play(schools=1, affiliates=1, redemption_cancel_grace_minutes=0) as play:
        counter = play.affiliates[0]
        pupil = await play.granted(play.schools[0])
        tickets = await play.credit(pupil, 1000, 1000, 1000)
        await play.redemption_ready()
        redeemed = [await play.redeemed(t["code"], counter) for t in tickets]
        await play.statement_holds(counter, len(tickets))
        # the batch is made while the admin's cancels wait at the (held) redemption service: both in flight
        async with carnet.frozen("redemption"):
            cancels = [asyncio.create_task(play.http.post(
                play.url("redemption", f"/v1/redemptions/{r['redemption_id']}/cancel"), headers=play.admin,
                json={"reason": "Encaissement en double", "then": "redeemable"})) for r in redeemed]
            batch = await play.batch()
            assert not any(task.done() for task in cancels)
        answers = await asyncio.gather(*cancels)
        await play.settled("affiliation")
        lines = {r["redemption_id"]: r for r in (await play.statement(counter))["redemptions"]}
        outcomes = []
        for done, answer in zip(redeemed, answers, strict=True):
            line = lines[done["redemption_id"]]
            outcomes.append((answer.status_code, line["status"], line["batch_id"] == batch["batch_id"]))
        print(f"\n  batch of {batch['count']} made while {len(answers)} admin cancels were in flight: "
              f"(cancel answer, statement line, in the batch) = {outcomes}")
        for status, line, in_batch in outcomes:
            assert (status, line, in_batch) in ((200, "cancelled", False), (409, "batched", True))
