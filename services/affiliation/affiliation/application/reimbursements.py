"""What organisations are owed: assigned tickets, statement lines (from the other services'
events), statements, and the reimbursement batches that pay them."""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import date

from carnet_contracts import events
from carnet_runtime.auth import Principal

from ..domain.reimbursement import (
    PARIS,
    AssignedTicket,
    Batch,
    BatchFiles,
    BatchStatus,
    LineStatus,
    PaidTransfer,
    StatementLine,
    StatementTotals,
    batch_not_found,
    execution_date,
    mark_paid,
    only_campaign_waiting,
    plan_batch,
    statement_totals,
    unknown_campaign,
)
from ..domain.sepa import Debtor, end_to_end_id, pain001, transfers_csv
from .common import Clock, UnitOfWork, ensure_own, load, utc_now

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Statement:
    affiliate_id: str
    campaign_id: str | None
    totals: StatementTotals
    lines: list[tuple[StatementLine, str | None]]  # each line with the batch that holds it


@dataclass(frozen=True)
class CreateBatch:
    created_by: str
    campaign_id: str | None = None  # may be left out while only one campaign has redemptions waiting
    execution_date: date | None = None


class Reimbursements:
    def __init__(self, *, debtor: Debtor, transfer_delay_days: int, clock: Clock = utc_now) -> None:
        self.debtor = debtor
        self.transfer_delay_days = transfer_delay_days
        self.clock = clock

    # --- what the organisation sees ------------------------------------------------------------

    async def assigned_tickets(self, uow: UnitOfWork, actor: Principal, affiliate_id: str) -> list[AssignedTicket]:
        ensure_own(actor, affiliate_id, admin_too=True)
        async with uow:
            return await uow.assigned_tickets.of(affiliate_id)

    async def statement(self, uow: UnitOfWork, actor: Principal, affiliate_id: str,
                        campaign_id: str | None) -> Statement:
        ensure_own(actor, affiliate_id, admin_too=True)
        async with uow:
            await load(uow, affiliate_id)
            lines = await uow.statements.of(affiliate_id, campaign_id)
        return Statement(affiliate_id, campaign_id, statement_totals([line for line, _ in lines]), lines)

    # --- batches -----------------------------------------------------------------------------------

    async def create_batch(self, uow: UnitOfWork, command: CreateBatch) -> Batch:
        """Every reimbursable line of the campaign, one transfer per organisation, in a SEPA file."""
        now = self.clock()
        when = execution_date(command.execution_date, now.astimezone(PARIS).date(), self.transfer_delay_days)
        batch_id = str(uuid.uuid4())
        async with uow:
            campaign_id = command.campaign_id or only_campaign_waiting(await uow.statements.campaigns_waiting())
            campaign = await uow.campaigns.get(campaign_id, for_update=True)  # one batch at a time per campaign
            if campaign is None:
                raise unknown_campaign(campaign_id)
            lines = await uow.statements.pending(campaign_id)
            payees = await uow.statements.payees(sorted({line.affiliate_id for line in lines}))
            plan = plan_batch(lines, campaign.terms, payees, now)
            xml = await asyncio.to_thread(pain001, batch_id=batch_id, plan=plan, debtor=self.debtor,
                                          campaign_label=campaign.label, execution_date=when, created_at=now)
            batch = Batch(
                batch_id=batch_id, campaign_id=campaign_id, status=BatchStatus.CREATED, total_cents=plan.total_cents,
                count=plan.count, execution_date=when, created_at=now, paid_at=None,
                transfers=tuple(
                    PaidTransfer(t.payee.affiliate_id, t.payee.name, t.payee.iban, t.amount_cents,
                                 len(t.redemption_ids), end_to_end_id(batch_id, t.payee.siret))
                    for t in plan.transfers
                ),
            )
            await uow.batches.add(batch, BatchFiles(xml, transfers_csv(batch_id, plan)), command.created_by,
                                  plan.redemption_ids)
            uow.publish(
                events.ReimbursementBatchCreated(
                    batch_id=batch_id, campaign_id=campaign_id, redemption_ids=plan.redemption_ids,
                    total_cents=plan.total_cents, count=plan.count, created_at=now,
                )
            )
            stored = await self._batch(uow, batch_id)
        log.info("reimbursement batch created", extra={"batch_id": batch_id, "count": plan.count})
        return stored

    async def batch(self, uow: UnitOfWork, batch_id: str) -> Batch:
        async with uow:
            return await self._batch(uow, batch_id)

    async def files(self, uow: UnitOfWork, batch_id: str) -> BatchFiles:
        async with uow:
            files = await uow.batches.files(batch_id)
        if files is None:
            raise batch_not_found()
        return files

    async def mark_paid(self, uow: UnitOfWork, batch_id: str) -> Batch:
        now = self.clock()
        async with uow:
            batch = await self._batch(uow, batch_id, for_update=True)
            mark_paid(batch.status)
            await uow.batches.mark_paid(batch_id, now)
            uow.publish(
                events.ReimbursementBatchPaid(
                    batch_id=batch_id,
                    campaign_id=batch.campaign_id,
                    redemption_ids=await uow.batches.redemption_ids(batch_id),
                    transfers=[
                        events.ReimbursementTransfer(affiliate_id=t.affiliate_id, name=t.name,
                                                     contact_email=t.contact_email or "", amount_cents=t.amount_cents,
                                                     count=t.count)
                        for t in batch.transfers
                    ],
                    total_cents=batch.total_cents,
                    paid_at=now,
                )
            )
            return await self._batch(uow, batch_id)

    @staticmethod
    async def _batch(uow: UnitOfWork, batch_id: str, *, for_update: bool = False) -> Batch:
        batch = await uow.batches.get(batch_id, for_update=for_update)
        if batch is None:
            raise batch_not_found()
        return batch

    # --- what the other services tell ----------------------------------------------------------------

    async def ticket_credited(self, uow: UnitOfWork, event: events.TicketCredited) -> None:
        if event.affiliate_id is None:
            return
        async with uow:
            await uow.assigned_tickets.save(
                AssignedTicket(event.ticket_id, event.affiliate_id, event.wallet_id, event.campaign_id,
                               event.code_suffix, event.amount_cents, event.valid_until, event.credited_at)
            )

    async def ticket_assigned(self, uow: UnitOfWork, event: events.TicketAssigned) -> None:
        async with uow:
            if event.affiliate_id is None:
                await uow.assigned_tickets.remove(event.ticket_id)
                return
            await uow.assigned_tickets.save(
                AssignedTicket(event.ticket_id, event.affiliate_id, event.wallet_id, event.campaign_id,
                               event.code_suffix, event.amount_cents, None, event.assigned_at)
            )

    async def ticket_voided(self, uow: UnitOfWork, event: events.TicketVoided) -> None:
        async with uow:
            await uow.assigned_tickets.remove(event.ticket_id)

    async def ticket_redeemed(self, uow: UnitOfWork, event: events.TicketRedeemed) -> None:
        async with uow:
            await uow.statements.add(
                StatementLine(event.redemption_id, event.affiliate_id, event.campaign_id, event.ticket_id,
                              event.amount_cents, event.redeemed_at, LineStatus.PENDING),
                event.wallet_id,
            )

    async def redemption_cancelled(self, uow: UnitOfWork, event: events.RedemptionCancelled) -> None:
        async with uow:
            status = await uow.statements.status_for_update(event.redemption_id)
            if status is LineStatus.PENDING:
                await uow.statements.cancel(event.redemption_id, event.cancelled_at)
        if status in (LineStatus.BATCHED, LineStatus.PAID):
            # the redemption service refuses a cancellation once a batch holds the redemption;
            # reaching here means the two disagree, which staff must look at
            log.error("cancellation of a redemption already in a reimbursement batch",
                      extra={"redemption_id": event.redemption_id, "status": status.value})
