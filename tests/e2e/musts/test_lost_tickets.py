"""Issue 14, must show: void then credit again gives a new code and the old one is refused
`TICKET_VOIDED`; a lost ticket replaced has its old code refused `TICKET_REPLACED`, its new code
redeemable and e-mailed; a replace racing a redemption ends with exactly one of them, never both
(the wallet, the counter's answers and the family's e-mails agree)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from carnet_contracts import topics

from .driver import Carnet, Play, Pupil
from .mail import barcodes

pytestmark = pytest.mark.integration


async def test_a_voided_ticket_comes_back_blank_and_credited_again_gets_a_new_code_while_the_old_one_is_refused_voided(
        carnet: Carnet):
    async with carnet.play(schools=1, affiliates=1) as play:
        pupil = await play.granted(play.schools[0])
        first, kept = await play.credit(pupil, 1000, 2000)
        await play.redemption_ready()
        assert (await play.http.get(play.url("redemption", f"/v1/tickets/{first['code']}"),
                                    headers=play.counter(play.affiliates[0]))).json()["redeemable"] is True

        asked = await play.call("POST", "wallet", f"/v1/wallets/{pupil.wallet_id}/tickets/{first['ticket_id']}/void",
                                headers=pupil.actor, expect=(202,))
        assert asked.json()["status"] == "void_pending"
        blank = await play.ticket_status(pupil, first["ticket_id"], "blank")
        assert (blank["amount_cents"], blank["code"]) == (None, None)
        wallet = await play.wallet(pupil)
        assert wallet["remaining_cents"] == wallet["allowance_cents"] - kept["amount_cents"], "the 10 EUR are back"
        assert await play.redeem_refused(first["code"]) == "TICKET_VOIDED"

        [again] = await play.credit(pupil, 1500)
        assert again["ticket_id"] == first["ticket_id"] and again["code"] != first["code"]
        await play.redemption_ready()
        assert await play.redeem_refused(first["code"]) == "TICKET_VOIDED"
        done = await play.redeemed(again["code"])
        assert (done["ticket_id"], done["amount_cents"]) == (first["ticket_id"], 1500)
        print(f"\n  ticket {first['ticket_id'][:8]}: voided, blank again, credited again with a new code "
              f"(…{again['code'][-4:]} for …{first['code'][-4:]}); the old code refused TICKET_VOIDED, the new one redeemed")


async def test_a_lost_ticket_replaced_by_the_correspondent_refuses_its_old_code_and_its_new_code_is_redeemable_and_emailed(
        carnet: Carnet):
    async with carnet.play(schools=1, affiliates=1) as play:
        pupil = await play.granted(play.schools[0], paper=True)
        [lost] = await play.credit(pupil, 2000, affiliate_id=play.affiliates[0].affiliate_id)
        await play.redemption_ready()

        asked = await play.call("POST", "wallet", f"/v1/wallets/{pupil.wallet_id}/tickets/{lost['ticket_id']}/replace",
                                headers=pupil.actor, expect=(202,))
        assert asked.json()["status"] == "replace_pending"
        new = await play.ticket_status(pupil, lost["ticket_id"], "credited")
        assert new["code"] != lost["code"]
        assert (new["amount_cents"], new["affiliate_id"]) == (2000, play.affiliates[0].affiliate_id)

        answer = await play.redeem(lost["code"])
        assert (answer.status_code, answer.json()["error"]["code"]) == (409, "TICKET_REPLACED")
        assert "perdu" in answer.json()["error"]["message"], answer.json()["error"]["message"]
        [sheet] = await carnet.mail.wait(pupil.email, "votre nouveau ticket")
        assert barcodes(sheet.pdfs()[0]) == [[new["code"]]], "the new sheet holds the new code"
        await play.redemption_ready()
        done = await play.redeemed(new["code"])
        assert done["ticket_id"] == lost["ticket_id"]
        print(f"\n  lost ticket …{lost['code'][-4:]} replaced by the correspondent: the counter hears "
              f"« {answer.json()['error']['message']} »; the new code …{new['code'][-4:]} e-mailed and redeemed")


async def _replace_racing_redemption(play: Play, carnet: Carnet, pupil: Pupil, tickets: list[dict[str, Any]],
                                     redemptions_first: bool) -> list[tuple[dict[str, Any], Any]]:
    """With the redemption service held still, both the replacements (on Kafka) and the counters'
    requests (on its socket) wait for it; it is let go with all of them in flight."""
    counter = play.affiliates[0]
    replaced = {t["ticket_id"] for t in tickets}

    def requested(messages: list[dict]) -> bool:
        seen = {m["data"]["ticket_id"] for m in messages if m.get("event_type") == "TicketReplaceRequested"}
        return replaced <= seen

    async with carnet.frozen("redemption"):
        if redemptions_first:
            counters = [asyncio.create_task(play.redeem(t["code"], counter)) for t in tickets]
        for t in tickets:
            await play.call("POST", "wallet", f"/v1/wallets/{pupil.wallet_id}/tickets/{t['ticket_id']}/replace",
                            headers=pupil.actor, expect=(202,))
        await play.events(topics.WALLET_TICKETS, until=requested)
        if not redemptions_first:
            counters = [asyncio.create_task(play.redeem(t["code"], counter)) for t in tickets]
        # a round trip to the wallet while the counters' requests go out to the held service
        pending = {t["ticket_id"]: t["status"] for t in (await play.wallet(pupil))["tickets"] if t["ticket_id"] in replaced}
        assert set(pending.values()) == {"replace_pending"}, pending
        assert not any(task.done() for task in counters), "the held redemption service answered nothing"
    return list(zip(tickets, await asyncio.gather(*counters), strict=True))


async def _replace_then_redemption_on_its_heels(play: Play, pupil: Pupil,
                                                tickets: list[dict[str, Any]]) -> list[tuple[dict[str, Any], Any]]:
    """Nothing held: each counter scans the ticket a little later after the family's replacement was
    accepted (0, 0.1, 0.2 s...), while the replacement travels (wallet outbox, Kafka, redemption)."""
    async def one(i: int, ticket: dict[str, Any]) -> Any:
        await play.call("POST", "wallet", f"/v1/wallets/{pupil.wallet_id}/tickets/{ticket['ticket_id']}/replace",
                        headers=pupil.actor, expect=(202,))
        await asyncio.sleep(0.1 * i)  # spreads the scans over the replacement's way, proves nothing by itself
        return await play.redeem(ticket["code"], play.affiliates[0])

    return list(zip(tickets, await asyncio.gather(*(one(i, t) for i, t in enumerate(tickets))), strict=True))


async def test_a_replace_racing_a_redemption_ends_with_exactly_one_of_them_never_both(carnet: Carnet):
    async with carnet.play(schools=1, affiliates=1) as play:
        pupil, other = await play.granted(play.schools[0]), await play.granted(play.schools[0])
        held, loose = await play.credit(pupil, *[1000] * 6), await play.credit(other, *[1000] * 6)
        await play.redemption_ready()
        attempts = [(pupil, *a) for a in await _replace_racing_redemption(play, carnet, pupil, held[:3], True)]
        attempts += [(pupil, *a) for a in await _replace_racing_redemption(play, carnet, pupil, held[3:], False)]
        attempts += [(other, *a) for a in await _replace_then_redemption_on_its_heels(play, other, loose)]
        tickets = held + loose
        ids = {t["ticket_id"] for t in tickets}

        def settled(messages: list[dict]) -> bool:
            answered = {m["data"]["ticket_id"] for m in messages
                        if m.get("event_type") in ("TicketReplaced", "TicketReplaceRefused")}
            return ids <= answered

        said = await play.events(topics.REDEMPTION_REDEMPTIONS, until=settled)
        await play.caught_up("wallet", topics.REDEMPTION_REDEMPTIONS)
        outcomes: dict[str, list] = {"redeemed": [], "replaced": []}
        for owner, ticket, answer in attempts:
            facts = sorted(m["event_type"] for m in said if m["data"].get("ticket_id") == ticket["ticket_id"]
                           and m["event_type"] in ("TicketRedeemed", "TicketReplaced", "TicketReplaceRefused"))
            final = await play.ticket(owner, ticket["ticket_id"])
            if answer.status_code == 201:
                assert facts == ["TicketRedeemed", "TicketReplaceRefused"], facts
                assert final["status"] == "redeemed" and final["replace_refusal_reason"], final
                outcomes["redeemed"].append((owner, ticket))
            else:
                assert (answer.status_code, answer.json()["error"]["code"]) == (409, "TICKET_REPLACED"), answer.text
                assert facts == ["TicketReplaced"], facts
                assert final["status"] == "credited" and final["code"] not in (None, ticket["code"]), final
                outcomes["replaced"].append((owner, ticket, final))

        await play.redemption_ready()
        for _, ticket, final in outcomes["replaced"]:
            assert (await play.redeemed(final["code"]))["ticket_id"] == ticket["ticket_id"], "the new code redeems"
        statement = await play.statement_holds(play.affiliates[0], len(attempts))
        assert sorted(r["ticket_id"] for r in statement["redemptions"]) == sorted(t["ticket_id"] for t in tickets), \
            "each ticket paid once"

        told = {"n'a pas pu être remplacé": "redeemed", "votre nouveau ticket": "replaced"}
        for family in (pupil, other):
            for subject, outcome in told.items():
                expected = sum(1 for o, *_ in outcomes[outcome] if o is family)
                if expected:
                    await carnet.mail.wait(family.email, subject, count=expected)
        await play.caught_up("notification", topics.REDEMPTION_REDEMPTIONS, topics.WALLET_WALLETS)
        sheets = []
        for family in (pupil, other):
            for subject, outcome in told.items():
                expected = sum(1 for o, *_ in outcomes[outcome] if o is family)
                assert len(carnet.mail.to(family.email, subject)) == expected, (family.email, subject)
            sheets += carnet.mail.to(family.email, "votre nouveau ticket")
        assert sorted(code for s in sheets for page in barcodes(s.pdfs()[0]) for code in page) == \
            sorted(final["code"] for *_, final in outcomes["replaced"]), "each new sheet holds its new code"
        print(f"\n  {len(attempts)} replacements raced a redemption, both in flight: "
              f"{len(outcomes['redeemed'])} redeemed first (replacement refused, the family told), "
              f"{len(outcomes['replaced'])} replaced first (the counter refused TICKET_REPLACED, the new sheet "
              f"e-mailed, the new code redeemed); never both, each ticket paid once")
