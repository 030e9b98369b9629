"""The counters redeem the tickets, with the mistakes a counter makes (a retry with the same
Idempotency-Key, a ticket scanned twice, a mistyped code, a cancel), and find the old code of a
voided or replaced ticket refused."""

from __future__ import annotations

import random
import uuid

from carnet_contracts.display import euros

from ..endpoints import ToolError
from .cast import displayed, mistype, topic
from .driver import Driver
from .outcome import Affiliate, CreditedTicket

MISTAKES = ["retry", "twice", "mistyped", "cancel", None, None, None, None, None, None, None, None]


class Counters(Driver):
    async def redeem(self) -> None:
        rng = random.Random(self.size.seed + 3)
        chosen = [t for t in self.tickets if not t.voided and t.family.uses_pass and rng.random() < 0.9]
        late = chosen[-max(1, len(chosen) // 20):] if len(chosen) >= 4 else []
        self.late = late
        now = chosen[:len(chosen) - len(late)]
        self.phases.start("Encaissement chez les affiliés", len(now))
        # the scanner answers from the redemption service's own view, fed by the wallet's events
        await self.caught_up("redemption", [topic("WALLET_TICKETS"), topic("AFFILIATION_AFFILIATES"),
                                            topic("ENROLMENT_CAMPAIGNS")], "the redemption view of the credited tickets")
        for i, t in enumerate(chosen):
            t.counter = next((a for a in self.affiliates if a.affiliate_id == t.affiliate_id), None) \
                or self.affiliates[rng.randrange(len(self.affiliates))]
            t.mistake = MISTAKES[i % len(MISTAKES)]
        for t in late:
            t.mistake = None
        await self.old_codes_refused()
        await self.each(now, self.redeem_ticket, midway="redeem-midway")
        mistakes = ", ".join(f"{n} {m}" for m, n in sorted(self.outcome.counter_mistakes.items()))
        await self.phase_done("redeem", f"{self.outcome.redeemed_tickets} tickets encaissés, "
                                        f"{euros(self.outcome.redeemed_cents)} ; erreurs au guichet : {mistakes}")

    async def old_codes_refused(self) -> None:
        """A counter scanning the old code of a ticket voided (and credited again) or declared lost."""
        old = [(t.code, "TICKET_VOIDED") for t in self.tickets if t.voided][:1]
        old += [(t.old_code, "TICKET_REPLACED") for t in self.tickets if t.old_code]
        counter = self.affiliates[0]
        for code, refusal in old:
            await self.refused("POST", f"{self.ep.redemption}/v1/redemptions", refusal, idempotent=True,
                               json={"ticket_code": displayed(code)},
                               headers={"Authorization": f"Bearer {counter.token}", "Idempotency-Key": str(uuid.uuid4())},
                               what=f"the old code of a ticket {'voided' if refusal == 'TICKET_VOIDED' else 'replaced'}")
            self.outcome.old_codes_refused[refusal] += 1

    async def redeem_ticket(self, t: CreditedTicket) -> None:
        counter: Affiliate | None = t.counter
        assert counter is not None
        me = {"Authorization": f"Bearer {counter.token}"}
        url = f"{self.ep.redemption}/v1/redemptions"
        display = displayed(t.code)
        check = (await self.call("GET", f"{self.ep.redemption}/v1/tickets/{display}", headers=me,
                                 what="checking a ticket at the counter")).json()
        if not check.get("redeemable") or check.get("amount_cents") != t.amount:
            raise ToolError(f"ticket {t.ticket_id} not redeemable at the counter: {check}")
        mistake = t.mistake
        if mistake == "mistyped":
            await self.refused("POST", url, "CODE_MALFORMED", idempotent=True, json={"ticket_code": mistype(t.code)},
                               headers=me | {"Idempotency-Key": str(uuid.uuid4())}, what="a mistyped code")
            self.outcome.counter_mistakes["code mal saisi (CODE_MALFORMED)"] += 1
        key = str(uuid.uuid4())
        first = await self.call("POST", url, json={"ticket_code": display}, headers=me | {"Idempotency-Key": key},
                                expect=(201,), what="redeeming a ticket", idempotent=True)
        redemption = first.json()
        if redemption["amount_cents"] != t.amount or redemption["ticket_id"] != t.ticket_id:
            raise ToolError(f"redemption {redemption} does not match the ticket credited")
        self.outcome.ledger.redeem(redemption["redemption_id"], t.ticket_id)
        t.redemption_id = redemption["redemption_id"]
        if mistake == "retry":
            again = await self.call("POST", url, json={"ticket_code": display}, headers=me | {"Idempotency-Key": key},
                                    expect=(201,), what="the scanner retrying with the same Idempotency-Key", idempotent=True)
            if again.json() != redemption:
                raise ToolError("the retried redemption did not get the first answer again")
            self.outcome.counter_mistakes["nouvel envoi, même clé (même réponse)"] += 1
        if mistake == "twice":
            await self.refused("POST", url, "TICKET_ALREADY_REDEEMED", idempotent=True, json={"ticket_code": t.code},
                               headers=me | {"Idempotency-Key": str(uuid.uuid4())}, what="a ticket scanned twice")
            self.outcome.counter_mistakes["ticket scanné deux fois (TICKET_ALREADY_REDEEMED)"] += 1
        if mistake == "cancel":
            await self.call("POST", f"{url}/{redemption['redemption_id']}/cancel", headers=me, idempotent=True,
                            what="cancelling a redemption")
            self.outcome.ledger.cancel(redemption["redemption_id"])
            self.outcome.counter_mistakes["encaissement annulé puis refait"] += 1
            again = await self.call("POST", url, json={"ticket_code": t.code}, expect=(201,), idempotent=True,
                                    headers=me | {"Idempotency-Key": str(uuid.uuid4())},
                                    what="redeeming a cancelled ticket again")
            self.outcome.ledger.redeem(again.json()["redemption_id"], t.ticket_id)
            t.redemption_id = again.json()["redemption_id"]
        self.count_redeemed(t)

    def count_redeemed(self, t: CreditedTicket, n: int = 1) -> None:
        """One more redemption that stands (or, n = -1, one less: the admin cancelled it)."""
        self.outcome.redeemed_tickets += n
        self.outcome.redeemed_cents += n * t.amount
        self.outcome.redeemed_by_amount[t.amount] += n
        t.redeemed = n > 0
