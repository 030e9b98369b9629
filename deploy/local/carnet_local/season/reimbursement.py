"""The département's side at the end: late corrections by the admin (a redemption made by mistake,
noticed after its grace period: the ticket redeemable again, or voided), the reimbursement batch, its
SEPA file, paid; tickets redeemed after it wait for the next one. The season ends when every service
shows the same thing."""

from __future__ import annotations

import asyncio

from carnet_contracts.display import euros

from ..endpoints import ToolError
from .cast import topic
from .counters import Counters
from .outcome import CreditedTicket

LATE_REASON = "Encaissement saisi par erreur au guichet, signalé par l'organisme après le délai d'annulation."


class Reimbursement(Counters):
    async def reimburse(self) -> None:
        self.phases.start("Remboursement des affiliés", 6 + len(self.late))
        admin, base = self.admin, self.ep.affiliation
        if not self.outcome.redeemed_tickets:
            await self.phase_done("reimburse", "aucun ticket encaissé : rien à rembourser")
            return
        await self.affiliates_hold("the affiliates' statements of every redeemed ticket")
        self.phases.advance()
        # The demo runs the season in minutes: the cancel period ends now, before the batch, as it would
        # have long ended by the end of the reimbursement period.
        await self.call("PUT", f"{self.ep.enrolment}/v1/campaigns/{self.campaign_id}", headers=admin,
                        json=self.campaign | {"redemption_cancel_grace_minutes": 0}, what="closing the cancel period")
        await self.caught_up("affiliation", [topic("ENROLMENT_CAMPAIGNS")], "the affiliation service learning the closed cancel period")
        self.phases.advance()
        await self.late_corrections()
        await self.affiliates_hold("the affiliates' statements without the redemptions the admin cancelled")
        self.phases.advance()
        batch = (await self.call("POST", f"{base}/v1/reimbursement-batches", expect=(201,), headers=admin,
                                 json={"campaign_id": self.campaign_id}, what="the reimbursement batch")).json()
        if batch["count"] != self.outcome.redeemed_tickets or batch["total_cents"] != self.outcome.redeemed_cents:
            raise ToolError(f"the batch pays {batch['count']} tickets / {batch['total_cents']} cents, "
                            f"{self.outcome.redeemed_tickets} / {self.outcome.redeemed_cents} were redeemed")
        sepa = await self.call("GET", f"{base}/v1/reimbursement-batches/{batch['batch_id']}/sepa.xml", headers=admin,
                               what="the SEPA file")
        if b"pain.001" not in sepa.content:
            raise ToolError("the SEPA file is not a pain.001 credit transfer")
        self.phases.advance()
        await self.call("POST", f"{base}/v1/reimbursement-batches/{batch['batch_id']}/paid", headers=admin,
                        what="marking the batch paid")
        self.outcome.batch_id = self.outcome.ledger.batch_id = batch["batch_id"]
        self.outcome.reimbursed_cents, self.outcome.reimbursed_tickets = batch["total_cents"], batch["count"]
        self.phases.advance()
        # tickets redeemed after the batch (one the admin made redeemable again among them): in the next one
        for t in self.late:
            await self.redeem_ticket(t)
            self.outcome.ledger.after_batch.add(t.redemption_id)
            self.outcome.late_redeemed_tickets += 1
            self.outcome.pending_cents += t.amount
            self.phases.advance()
        corrected = ", ".join(f"{n} → {then}" for then, n in sorted(self.outcome.late_cancellations.items()))
        await self.phase_done("reimburse", f"{corrected or 'aucune'} annulation tardive par le département ; "
                                           f"lot {batch['batch_id'][:8]} : {batch['count']} tickets, "
                                           f"{euros(batch['total_cents'])} remboursés (virement SEPA) ; "
                                           f"{len(self.late)} tickets encaissés depuis, en attente")

    async def late_corrections(self) -> None:
        """The admin cancels two redemptions past their grace period: one ticket redeemable again (it is
        redeemed again after the batch), one voided (blank again in its wallet)."""
        redeemed = [t for t in self.tickets if t.redeemed and t.mistake is None]
        if len(redeemed) < 2:
            return
        again, voided = redeemed[0], redeemed[1]
        await asyncio.gather(self.cancel_late(again, "redeemable"), self.cancel_late(voided, "void"))
        again.mistake = None
        self.late.append(again)

    async def cancel_late(self, t: CreditedTicket, then: str) -> None:
        url = f"{self.ep.redemption}/v1/redemptions/{t.redemption_id}/cancel"
        cancelled = (await self.call("POST", url, headers=self.admin, json={"reason": LATE_REASON, "then": then},
                                     idempotent=True, what=f"the admin cancelling a redemption late ({then})")).json()
        if (cancelled["status"], cancelled["cancelled_by_role"], cancelled["cancel_then"]) != ("cancelled", "admin", then):
            raise ToolError(f"the admin's late cancel of {t.redemption_id} answered {cancelled}")
        assert t.redemption_id is not None
        self.outcome.ledger.cancel(t.redemption_id, by="admin")
        self.count_redeemed(t, -1)
        self.outcome.late_cancellations[then] += 1
        if then == "void":
            await self.void_shown(t, "the admin's late cancel")
            t.voided = True

    async def affiliates_hold(self, what: str) -> None:
        """The affiliation service's figures (one call, every affiliate) show every redemption that stands
        and every one cancelled."""
        expected = (self.outcome.redeemed_tickets, len(self.outcome.ledger.cancelled))

        async def probe() -> bool:
            stats = (await self.call("GET", f"{self.ep.affiliation}/v1/stats", params={"campaign_id": self.campaign_id},
                                     headers=self.admin, what="the affiliation figures")).json()
            return (stats["redeemed_count"], stats["cancelled_count"]) == expected

        await self.until(what, probe, interval=0.5)

    async def settle(self) -> None:
        """The season is over when every service shows the same thing: wallet_ready applications,
        redeemed tickets in the wallets, statement lines at the affiliates."""
        self.phases.start("Bilan", 2)
        await self.affiliates_hold("the statements of the tickets redeemed after the batch")
        self.phases.advance()
        used = {t.wallet_id for t in self.tickets if t.redeemed}
        self.outcome.students_who_used = len(used)
        expected = (self.outcome.redeemed_tickets, self.outcome.ledger.credited_cents)

        async def probe() -> bool:
            stats = (await self.call("GET", f"{self.ep.wallet}/v1/stats", params={"campaign_id": self.campaign_id},
                                     headers=self.admin, what="the wallet figures")).json()
            return (stats["tickets_by_status"].get("redeemed", 0), stats["credited_cents"]) == expected

        await self.until("every redeemed ticket shown as redeemed in the wallets", probe, interval=0.5)
        # and nothing the redemption service said is still on its way to the wallets or the affiliates
        for group in ("wallet", "affiliation"):
            await self.caught_up(group, [topic("REDEMPTION_REDEMPTIONS")], f"the {group} service reading every redemption")
        self.phases.advance()
        await self.phase_done("settle", f"campagne {self.campaign_id} terminée")
