"""Issue 14, must show: a family without internet uses its pass. Its school's correspondent enters the
paper form, validates it, credits the tickets as the form says and prints several pupils' tickets in
one PDF (every barcode decoding to its ticket's code); an active affiliate (account activated and
convention signed through the e-mails) redeems them; the family is told by e-mail."""

from __future__ import annotations

import pytest

from carnet_contracts.display import euros

from .driver import Carnet
from .mail import barcodes, pdf_text, spaced

pytestmark = pytest.mark.integration


async def test_a_paper_family_enrolled_by_the_correspondent_gets_its_tickets_credited_printed_in_one_pdf_and_redeemed(
        carnet: Carnet):
    async with carnet.play(schools=1, affiliates=1) as play:
        school, counter = play.schools[0], play.affiliates[0]
        correspondent = play.correspondent(school)
        pupils = [await play.apply(school, paper=True) for _ in range(3)]
        for pupil in pupils:
            await play.validate(pupil)
        for pupil in pupils:
            await play.wallet_ready(pupil)
            wallet = await play.wallet(pupil, correspondent)
            assert wallet["paper"] is True
        plans = [(1000, 3000), (2000,), (500, 500, 1000)]
        for pupil, plan in zip(pupils, plans, strict=True):
            await play.credit(pupil, *plan)
        printed = pupils[:2] + pupils[2:]   # every pupil, in the order asked

        answer = await play.call("GET", "wallet", f"/v1/schools/{school}/tickets.pdf", headers=correspondent,
                                 params={"wallet_ids": ",".join(p.wallet_id for p in printed)})
        assert answer.headers["content-type"] == "application/pdf"
        pages, texts = barcodes(answer.content), pdf_text(answer.content)
        assert len(pages) == len(printed), "one page per pupil"
        for pupil, page, text in zip(printed, pages, texts, strict=True):
            assert page == sorted(t["code"] for t in pupil.tickets), "every barcode decodes to its ticket's code"
            assert pupil.form["student"]["last_name"] in text
        print(f"\n  the correspondent printed {len(pages)} pupils in one PDF ({len(answer.content)} bytes): "
              f"{sum(len(p) for p in pages)} barcodes, each its ticket's code")

        await play.redemption_ready()
        redeemed = []
        for pupil in pupils:
            ticket = pupil.tickets[0]
            done = await play.redeemed(ticket["code"], counter)
            assert (done["ticket_id"], done["amount_cents"]) == (ticket["ticket_id"], ticket["amount_cents"])
            redeemed.append((pupil, ticket, done))
        for pupil, ticket, done in redeemed:
            shown = await play.ticket_status(pupil, ticket["ticket_id"], "redeemed")
            assert shown["redeemed_by"] == {"affiliate_id": counter.affiliate_id, "name": counter.name}
            told = await carnet.mail.wait(pupil.email, "a été utilisé")
            assert spaced(euros(ticket["amount_cents"], drop_zero_cents=True)) in spaced(told[0].subject)
            assert counter.name in told[0].subject
            print(f"  {pupil.form['student']['first_name']}: {euros(ticket['amount_cents'])} redeemed at "
                  f"{counter.name}; the family was told « {told[0].subject} »")

        # every act done on the family's behalf is kept with who did it
        export = (await play.call("GET", "wallet", "/v1/privacy/export", headers=play.admin,
                                  params={"email": pupils[0].email})).json()
        acts = [a for a in export["acts_on_behalf"] if a["wallet_id"] == pupils[0].wallet_id]
        assert {a["action"] for a in acts} >= {"credit", "print"}, acts
        assert {a["actor_role"] for a in acts} == {"correspondent"}
        assert all(a["actor_sub"] == f"correspondant-{school}" for a in acts)
