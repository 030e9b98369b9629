"""Issue 14, must show: the e-mails that always go out. The ticket e-mail carries the sheet as it was
asked, although a ticket on it was redeemed before the notification service sent it; an address with
an accented local part is delivered (SMTPUTF8), one no server could take is refused at enrolment; the
weekly digest reaches the correspondent of a school with waiting files, and no one at a school without."""

from __future__ import annotations

import pytest

from carnet_contracts import topics

from .driver import Carnet
from .mail import barcodes

pytestmark = pytest.mark.integration


async def test_the_ticket_email_carries_the_sheet_as_asked_although_a_ticket_on_it_was_redeemed_before_sending(
        carnet: Carnet):
    async with carnet.play(schools=1, affiliates=1) as play:
        pupil = await play.granted(play.schools[0])
        tickets = await play.credit(pupil, 1000, 2000, 3000)
        await play.redemption_ready()

        async with carnet.frozen("notification"):
            asked = await play.call("POST", "wallet", f"/v1/wallets/{pupil.wallet_id}/tickets/email",
                                    headers=pupil.actor, expect=(202,))
            assert asked.json()["positions"] == [t["position"] for t in tickets]
            await play.redeemed(tickets[0]["code"])
            used = await play.ticket_status(pupil, tickets[0]["ticket_id"], "redeemed")
            assert not carnet.mail.to(pupil.email, "en pièce jointe"), "the held notification service sent nothing"
        [sent] = await carnet.mail.wait(pupil.email, "vos 3 tickets en pièce jointe")
        [pdf] = sent.pdfs()
        assert barcodes(pdf) == [sorted(t["code"] for t in tickets)], "the sheet as it was asked, the used ticket too"
        messages = (await play.call("GET", "notification", "/v1/messages", params={"recipient": pupil.email},
                                    headers=play.admin)).json()["messages"]
        sheet = next(m for m in messages if m["template"] == "tickets_sheet")
        assert (sheet["state"], sheet["attempts"]) == ("sent", 1), sheet
        print(f"\n  ticket …{tickets[0]['code'][-4:]} redeemed at {used['redeemed_at']} while the notification "
              f"service was held; the e-mail then went out once with the 3 tickets as asked (every barcode decoded)")


async def test_an_address_with_an_accented_local_part_is_delivered_and_one_no_server_could_take_is_refused_at_enrolment(
        carnet: Carnet):
    async with carnet.play(schools=1, affiliates=0) as play:
        school = play.schools[0]
        address = "élodie.durand@example.fr"
        pupil = await play.apply(school, form=play.form(school, email=address))
        [received] = await carnet.mail.wait(address, "bien reçue")
        assert received.to == address
        messages = (await play.call("GET", "notification", "/v1/messages", params={"recipient": address},
                                    headers=play.admin)).json()["messages"]
        assert [m["state"] for m in messages if m["template"] == "application_received"] == ["sent"]

        refused = play.form(school, email="élodie..durand@example.fr")
        answer = await play.refused("POST", "enrolment", "/v1/applications", "VALIDATION_ERROR", json=refused,
                                    headers=pupil.actor)
        fields = {f["field"]: f["problem"] for f in answer.json()["error"]["details"]["fields"]}
        assert "guardian.email" in fields, fields
        print(f"\n  « {received.subject} » delivered to {received.to} (SMTPUTF8); "
              f"élodie..durand@example.fr refused at enrolment: {fields['guardian.email']}")


async def test_the_weekly_digest_reaches_the_correspondent_of_a_school_with_waiting_files_and_none_of_a_school_without(
        carnet: Carnet):
    async with carnet.play(schools=2, affiliates=0) as play:
        waiting_school, done_school = play.schools
        waiting = [await play.apply(waiting_school), await play.apply(waiting_school, paper=True)]
        await play.granted(done_school)

        sent = (await play.call("POST", "enrolment", "/v1/correspondent-digests", params={"force": "true"},
                                headers=play.admin, expect=(202,))).json()
        by_school = {d["school_id"]: d["total_waiting"] for d in sent["digests"]}
        assert by_school.get(waiting_school) == 2 and done_school not in by_school, sent

        [digest] = await carnet.mail.wait(f"correspondant.{waiting_school}@example.org", "attendent votre validation")
        body = digest.text
        positions = [body.index(p.form["student"]["last_name"]) for p in waiting]
        assert positions == sorted(positions), "oldest first"
        assert "(bulletin papier)" in body
        await play.caught_up("notification", topics.ENROLMENT_SCHOOLS)
        assert not carnet.mail.to(f"correspondant.{done_school}@example.org", "votre validation"), \
            "no digest for a school with no waiting file"
        stats = (await play.call("GET", "enrolment", "/v1/stats", params={"campaign_id": play.campaign_id},
                                 headers=play.admin)).json()
        print(f"\n  « {digest.subject} » to the correspondent of {waiting_school}; nothing to {done_school}; "
              f"enrolment figures: waiting {stats.get('waiting')}")
