"""Issue 15, must show: after a season, every cent of allowance credited is in exactly one of
outstanding (by validity end), expired unspent, pending, in payment or reimbursed, as of a date, for
every campaign; computed here from what the test did (its own ledger), then read from the wallet's and
the affiliation's figures, and from `carnet report`."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pytest

from carnet_contracts import topics
from carnet_local.season import paris_today
from carnet_local.report import gather

from .driver import Carnet, Play, Pupil

pytestmark = pytest.mark.integration


@dataclass
class Ledger:
    """What the test did, ticket by ticket: amount, redeemed or not, and where its reimbursement is."""

    allowance: int = 0
    amounts: dict[str, int] = field(default_factory=dict)     # credited tickets (voided ones leave)
    redeemed: set[str] = field(default_factory=set)
    batched: dict[str, str] = field(default_factory=dict)     # ticket -> batch
    paid_batches: set[str] = field(default_factory=set)

    def credited(self, tickets: list[dict[str, Any]]) -> None:
        self.amounts.update({t["ticket_id"]: t["amount_cents"] for t in tickets})

    def state(self, ticket_id: str) -> str:
        if ticket_id not in self.redeemed:
            return "outstanding"
        batch = self.batched.get(ticket_id)
        return "pending" if batch is None else "reimbursed" if batch in self.paid_batches else "in_payment"

    def figures(self, as_of: date, valid_until: date, today: date) -> dict[str, int]:
        """As of the end of `as_of`: everything here was credited and redeemed today."""
        cents: dict[str, int] = defaultdict(int)
        if as_of < today:
            return dict(cents)
        for ticket, amount in self.amounts.items():
            state = self.state(ticket)
            if state == "outstanding":
                cents["expired_unspent" if valid_until < as_of else "outstanding"] += amount
            else:
                cents["redeemed"] += amount
                cents[state] += amount
        return dict(cents)


async def redeem(play: Play, ledger: Ledger, ticket: dict[str, Any], affiliate: int) -> dict[str, Any]:
    done = await play.redeemed(ticket["code"], play.affiliates[affiliate])
    ledger.redeemed.add(ticket["ticket_id"])
    return done


async def batch(play: Play, ledger: Ledger, pending: int, *, paid: bool) -> None:
    async def all_pending() -> bool:
        stats = await affiliation_stats(play)
        return stats["pending_count"] == pending

    await play.until(f"{pending} redemptions pending at the affiliation service", all_pending)
    made = await play.batch()
    lines = [r for a in play.affiliates for r in (await play.statement(a))["redemptions"] if r["batch_id"] == made["batch_id"]]
    ledger.batched.update({r["ticket_id"]: made["batch_id"] for r in lines})
    if paid:
        await play.call("POST", "affiliation", f"/v1/reimbursement-batches/{made['batch_id']}/paid", headers=play.admin)
        ledger.paid_batches.add(made["batch_id"])


async def wallet_stats(play: Play, as_of: date, campaign_id: str | None = None) -> dict[str, Any]:
    return (await play.call("GET", "wallet", "/v1/stats", headers=play.admin,
                            params={"campaign_id": campaign_id or play.campaign_id, "as_of": as_of.isoformat()})).json()


async def affiliation_stats(play: Play, campaign_id: str | None = None) -> dict[str, Any]:
    return (await play.call("GET", "affiliation", "/v1/stats", headers=play.admin,
                            params={"campaign_id": campaign_id or play.campaign_id})).json()


async def season(play: Play, ledger: Ledger) -> list[Pupil]:
    school = play.schools[0]
    pupils = [await play.granted(school), await play.granted(school), await play.granted(school),
              await play.granted(school, paper=True)]
    ledger.allowance = 7000 * len(pupils)
    one, two, three, _ = pupils
    first = await play.credit(one, 1000, 2000, 3000)
    second = await play.credit(two, 7000)
    third = await play.credit(three, 500, 1500)
    for tickets in (first, second, third):
        ledger.credited(tickets)
    await play.call("POST", "wallet", f"/v1/wallets/{three.wallet_id}/tickets/{third[1]['ticket_id']}/void",
                    headers=three.actor, expect=(202,))
    await play.ticket_status(three, third[1]["ticket_id"], "blank")
    del ledger.amounts[third[1]["ticket_id"]]

    await play.redemption_ready()
    await redeem(play, ledger, first[0], 0)
    await redeem(play, ledger, first[1], 1)
    await batch(play, ledger, 2, paid=True)
    await redeem(play, ledger, second[0], 0)
    await batch(play, ledger, 1, paid=False)
    await redeem(play, ledger, third[0], 1)
    cancelled = await redeem(play, ledger, first[2], 0)
    await play.call("POST", "redemption", f"/v1/redemptions/{cancelled['redemption_id']}/cancel", headers=play.admin,
                    json={"reason": "Encaissé sur le mauvais compte", "then": "redeemable"})
    ledger.redeemed.discard(first[2]["ticket_id"])
    await play.ticket_status(one, first[2]["ticket_id"], "credited")
    await play.caught_up("affiliation", topics.REDEMPTION_REDEMPTIONS)
    await play.caught_up("wallet", topics.REDEMPTION_REDEMPTIONS)
    return pupils


async def test_every_cent_credited_is_outstanding_expired_unspent_pending_in_payment_or_reimbursed_as_of_a_date_and_the_report_agrees(
        carnet: Carnet):
    async with carnet.play(schools=1, affiliates=2, redemption_cancel_grace_minutes=0) as play:
        ledger = Ledger()
        await season(play, ledger)
        today, valid_until = paris_today(), date.fromisoformat(play.campaign["pass_valid_until"])
        paid = await affiliation_stats(play)
        for as_of in (today - timedelta(days=1), today, valid_until, valid_until + timedelta(days=1)):
            mine = ledger.figures(as_of, valid_until, today)
            shown = await wallet_stats(play, as_of)
            assert shown["credited_as_of_cents"] == sum(mine.get(k, 0) for k in ("outstanding", "expired_unspent", "redeemed"))
            assert (shown["outstanding_cents"], shown["expired_unspent_cents"], shown["redeemed_cents"]) == \
                (mine.get("outstanding", 0), mine.get("expired_unspent", 0), mine.get("redeemed", 0)), (as_of, shown)
            assert sum(s["cents"] for s in shown["outstanding_by_valid_until"]) == shown["outstanding_cents"]
            assert all(s["valid_until"] == valid_until.isoformat() for s in shown["outstanding_by_valid_until"])
            if as_of >= today:
                assert shown["credited_as_of_cents"] == shown["outstanding_cents"] + shown["expired_unspent_cents"] + \
                    paid["pending_cents"] + paid["in_payment_cents"] + paid["reimbursed_cents"], "each cent in one place"
            print(f"\n  as of {as_of}: ledger {mine}; wallet outstanding {shown['outstanding_cents']}, expired unspent "
                  f"{shown['expired_unspent_cents']}, redeemed {shown['redeemed_cents']}", end="")
        now = ledger.figures(today, valid_until, today)
        assert (paid["pending_cents"], paid["in_payment_cents"], paid["reimbursed_cents"]) == \
            (now["pending"], now["in_payment"], now["reimbursed"])
        assert (paid["cancelled_count"], paid["cancelled_cents"]) == (1, 3000)
        shown = await wallet_stats(play, today)
        assert shown["allowance_cents"] == ledger.allowance == shown["credited_cents"] + shown["remaining_cents"]
        assert shown["credited_cents"] == sum(ledger.amounts.values())
        print(f"\n  affiliation: pending {paid['pending_cents']}, in payment {paid['in_payment_cents']}, reimbursed "
              f"{paid['reimbursed_cents']} (ledger {now})")

        report = await gather(carnet.endpoints, play.admin, play.campaign_id)
        assert report["credited_cents"] == shown["credited_cents"]
        assert report["consumed_cents"] == shown["redeemed_cents"]
        assert (report["pending_cents"], report["in_payment_cents"], report["reimbursed_cents"]) == \
            (paid["pending_cents"], paid["in_payment_cents"], paid["reimbursed_cents"])
        c = report["committed"]
        assert (c["outstanding_cents"], c["expired_unspent_cents"]) == (shown["outstanding_cents"],
                                                                          shown["expired_unspent_cents"])
        assert c["outstanding_by_valid_until"] == shown["outstanding_by_valid_until"]
        assert c["holds"], c["checks"]
        print(f"\n  carnet report: consumed {report['consumed_cents']}, pending {report['pending_cents']}, in payment "
              f"{report['in_payment_cents']}, reimbursed {report['reimbursed_cents']}, outstanding "
              f"{c['outstanding_cents']}, expired unspent {c['expired_unspent_cents']}: equal to the APIs'")


async def test_for_every_campaign_credited_is_outstanding_plus_expired_unspent_plus_redeemed_and_redeemed_is_pending_in_payment_and_reimbursed(
        carnet: Carnet):
    async with carnet.play(schools=1, affiliates=1, redemption_cancel_grace_minutes=0) as play:
        pupil = await play.granted(play.schools[0])
        tickets = await play.credit(pupil, 1000, 2500)
        await play.redemption_ready()
        await play.redeemed(tickets[0]["code"])
        await play.caught_up("affiliation", topics.REDEMPTION_REDEMPTIONS)
        await play.caught_up("wallet", topics.REDEMPTION_REDEMPTIONS)
        campaigns = (await play.call("GET", "enrolment", "/v1/campaigns", headers=play.admin)).json()
        today = paris_today()
        for campaign in campaigns:
            cid = campaign["campaign_id"]
            for as_of in (today, date.fromisoformat(campaign["pass_valid_until"]) + timedelta(days=1)):
                shown = await wallet_stats(play, as_of, cid)
                assert shown["credited_as_of_cents"] == \
                    shown["outstanding_cents"] + shown["expired_unspent_cents"] + shown["redeemed_cents"]
            shown, paid = await wallet_stats(play, today, cid), await affiliation_stats(play, cid)
            assert shown["redeemed_cents"] == paid["pending_cents"] + paid["in_payment_cents"] + paid["reimbursed_cents"], cid
            assert shown["credited_cents"] == shown["outstanding_cents"] + shown["expired_unspent_cents"] + \
                shown["redeemed_cents"], cid
        print(f"\n  {len(campaigns)} campaigns: credited = outstanding + expired unspent + redeemed (wallet) and redeemed "
              f"= pending + in payment + reimbursed (affiliation), to the cent, for each")
