"""Families (and, for a family without internet, its school's correspondent) credit their tickets,
print or e-mail them; a few void one (it becomes blank again, and some credit it again with a new
code) and one declares a ticket lost (it gets a new code, the old one is refused at the counters)."""

from __future__ import annotations

import asyncio
import random
from typing import Any

from carnet_contracts.display import euros

from ..endpoints import ToolError
from .cast import topic
from .driver import Driver
from .outcome import CreditedTicket, Family


class Tickets(Driver):
    def credit_plan(self, rng: random.Random) -> list[int]:
        draw = rng.random()
        if draw < 0.30:
            return [7000]
        if draw < 0.75:
            return [1000] * rng.randint(2, 7)
        if draw < 0.90:
            return [3000] + [1000] * rng.randint(0, 4)
        return rng.choice([[3000, 3000, 1000], [2000, 1500, 500], [5000, 2000]])

    def in_order(self) -> None:
        """The credits in the same order whatever the services' timing (family, position, then credit
        order), so the same seed redeems the same tickets."""
        self.tickets.sort(key=lambda t: (t.family.index, t.position))

    async def credit(self) -> None:
        holders = [f for f in self.families if f.wallet_id]
        self.phases.start("Crédit des tickets", len(holders))
        await self.caught_up("wallet", [topic("AFFILIATION_AFFILIATES")], "the wallet learning the active affiliates")
        await self.each(holders, self.credit_wallet)
        self.in_order()
        self.outcome.allowance_cents = self.campaign["allowance_cents"] * len(holders)
        refused = ", ".join(f"{n} {code}" for code, n in sorted(self.outcome.family_mistakes.items()))
        await self.phase_done("credit", f"{self.outcome.credited_tickets} tickets crédités, "
                                        f"{euros(self.outcome.credited_cents)} ; montants : "
                                        + ", ".join(f"{euros(a)} × {n}" for a, n in self.outcome.credited_by_amount.most_common(3))
                                        + f" ; refusés : {refused or 'aucun'}")

    async def credit_ticket(self, f: Family, ticket_id: str, body: dict[str, Any], what: str) -> CreditedTicket:
        url = f"{self.ep.wallet}/v1/wallets/{f.wallet_id}/tickets/{ticket_id}/credit"
        credited = (await self.call("POST", url, json=body, headers=self.acting_for(f), what=what)).json()
        ticket = CreditedTicket(f, credited["ticket_id"], credited["position"], credited["code"], body["amount_cents"],
                                body.get("affiliate_id"))
        self.tickets.append(ticket)
        self.outcome.ledger.credit(ticket.ticket_id, ticket.wallet_id, ticket.amount)
        self.outcome.credited_tickets += 1
        self.outcome.credited_cents += ticket.amount
        self.outcome.credited_by_amount[ticket.amount] += 1
        return ticket

    async def credit_wallet(self, f: Family) -> None:
        rng = random.Random(self.size.seed * 100_003 + f.index)
        wallet = await self.wallet(f, "opening a wallet")
        if rng.random() < 0.12 and not f.paper:
            return  # a pass never credited
        plan = self.credit_plan(rng)
        blanks = [t for t in wallet["tickets"] if t["status"] == "blank"]
        who = "a correspondent crediting a paper wallet's ticket" if f.paper else "a family crediting a ticket"
        for ticket, amount in zip(blanks, plan):
            body: dict[str, Any] = {"amount_cents": amount}
            if rng.random() < 0.15:
                body["affiliate_id"] = rng.choice(self.affiliates).affiliate_id
            await self.credit_ticket(f, ticket["ticket_id"], body, who)
        blank = next((t for t in blanks[len(plan):]), None)
        if blank is not None and f.index % 17 == 0:
            url = f"{self.ep.wallet}/v1/wallets/{f.wallet_id}/tickets/{blank['ticket_id']}/credit"
            me = self.acting_for(f)
            await self.refused("POST", url, "AMOUNT_OUT_OF_RANGE", json={"amount_cents": 8000}, headers=me,
                               what="crediting 80 EUR")
            self.outcome.family_mistakes["AMOUNT_OUT_OF_RANGE"] += 1
            if sum(plan) + 500 > 7000:
                await self.refused("POST", url, "ALLOWANCE_EXCEEDED", json={"amount_cents": 1000}, headers=me,
                                   what="crediting beyond the allowance")
                self.outcome.family_mistakes["ALLOWANCE_EXCEEDED"] += 1

    async def print_and_void(self) -> None:
        by_wallet: dict[str, list[CreditedTicket]] = {}
        for t in self.tickets:
            by_wallet.setdefault(t.wallet_id, []).append(t)
        wallets = list(by_wallet.values())
        self.phases.start("Impression des tickets", len(wallets) + 1)
        await self.each(wallets, self.sheet_and_void)
        await self.print_for_paper_families()
        self.phases.advance()
        voided = [t for t in self.tickets if t.voided]
        lost = next((t for t in self.tickets if not t.voided and not t.family.paper and t.family.uses_pass
                     and t.family.index % 3 == 0), None)
        await asyncio.gather(*(self.blank_again(t, credit_again=i % 2 == 0) for i, t in enumerate(voided)),
                             *([self.replace(lost)] if lost else []))
        self.in_order()
        await self.phase_done("print", f"{self.outcome.sheets} planches imprimées ou envoyées, "
                                       f"{self.outcome.school_sheets} par un collège pour ses familles sur papier ; "
                                       f"{len(voided)} tickets annulés par les familles ({self.outcome.credited_again} "
                                       f"crédités à nouveau, nouveau code) ; {self.outcome.replaced_tickets} ticket perdu "
                                       f"remplacé")

    async def sheet_and_void(self, tickets: list[CreditedTicket]) -> None:
        f = tickets[0].family
        me = self.acting_for(f)
        url = f"{self.ep.wallet}/v1/wallets/{f.wallet_id}"
        if f.paper:
            pass  # its school prints it, with the school's other paper families
        elif f.index % 3 == 0:
            positions = ",".join(str(t.position) for t in tickets)
            pdf = await self.call("GET", f"{url}/tickets.pdf", params={"positions": positions}, headers=me,
                                  what="printing a ticket sheet")
            if not pdf.content.startswith(b"%PDF"):
                raise ToolError("the ticket sheet is not a PDF")
            self.outcome.sheets += 1
        elif f.index % 11 == 1:
            await self.call("POST", f"{url}/tickets/email", headers=me, expect=(202,), what="e-mailing a ticket sheet")
            self.outcome.sheets += 1
        if len(tickets) >= 2 and f.index % 9 == 4:
            last = tickets[-1]
            await self.call("POST", f"{url}/tickets/{last.ticket_id}/void", headers=me, expect=(202,),
                            what="a family voiding a ticket")
            last.voided = True

    async def print_for_paper_families(self) -> None:
        """Each school's correspondent prints its paper families' tickets in one PDF, a page per pupil."""
        for school_id in self.schools:
            wallet_ids = sorted({t.wallet_id for t in self.tickets if t.family.paper and t.family.school_id == school_id})
            if not wallet_ids:
                continue
            pdf = await self.call("GET", f"{self.ep.wallet}/v1/schools/{school_id}/tickets.pdf",
                                  params={"wallet_ids": ",".join(wallet_ids)}, headers=self.correspondent(school_id),
                                  what="a correspondent printing its paper families' tickets")
            if not pdf.content.startswith(b"%PDF"):
                raise ToolError("the school's ticket sheets are not a PDF")
            self.outcome.school_sheets += 1

    async def blank_again(self, t: CreditedTicket, *, credit_again: bool) -> None:
        """Wait for the redemption service's answer to a void: the ticket blank again, its amount back."""
        await self.void_shown(t, "its void")
        if credit_again:
            again = await self.credit_ticket(t.family, t.ticket_id, {"amount_cents": t.amount},
                                             "crediting a voided ticket again")
            if again.code == t.code:
                raise ToolError(f"ticket {t.ticket_id} credited again kept its old code")
            self.outcome.credited_again += 1

    async def replace(self, t: CreditedTicket) -> None:
        """A family declares a ticket lost: it gets a new code once the redemption service retired the old one."""
        url = f"{self.ep.wallet}/v1/wallets/{t.wallet_id}/tickets/{t.ticket_id}/replace"
        await self.call("POST", url, headers=self.acting_for(t.family), expect=(202,), what="replacing a lost ticket")

        async def probe() -> str | None:
            wallet = await self.wallet(t.family, "following a replacement")
            now = next(x for x in wallet["tickets"] if x["ticket_id"] == t.ticket_id)
            return now["code"] if now["status"] == "credited" and now["code"] != t.code else None

        t.old_code, t.code = t.code, await self.until(f"ticket {t.ticket_id} credited with a new code after its "
                                                      "replacement (the redemption service's answer)", probe)
        self.outcome.ledger.replace(t.ticket_id)
        self.outcome.replaced_tickets += 1
