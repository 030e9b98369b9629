"""Tickets assigned to an organisation, its statement, the reimbursement batches, the campaign's figures."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Query
from fastapi.responses import Response

from carnet_runtime import PlainText
from carnet_runtime.auth import Principal, require

from ..application.reimbursements import CreateBatch
from ..wiring import Affiliation
from .schemas import (
    AffiliationFigures,
    AssignedTicketsView,
    AssignedTicketView,
    BatchIn,
    BatchView,
    StatementRedemption,
    StatementView,
)

log = logging.getLogger(__name__)


def _attachment(content: bytes | str, media_type: str, filename: str) -> Response:
    return Response(content, media_type=media_type,
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _file(media_type: str, description: str) -> dict:
    return {200: {"description": description, "content": {media_type: {"schema": {"type": "string"}}}}}


def router(app: Affiliation) -> APIRouter:
    routes = APIRouter(prefix="/v1")
    reimbursements = app.reimbursements

    @routes.get("/affiliates/{affiliate_id}/assigned-tickets", tags=["statement"])
    async def assigned(affiliate_id: PlainText,
                       principal: Principal = require("affiliate", "admin")) -> AssignedTicketsView:
        tickets = await reimbursements.assigned_tickets(app.uow(), principal, affiliate_id)
        return AssignedTicketsView(affiliate_id=affiliate_id, items=[AssignedTicketView.of(t) for t in tickets])

    @routes.get("/affiliates/{affiliate_id}/statement", tags=["statement"])
    async def statement(
        affiliate_id: PlainText,
        principal: Principal = require("affiliate", "admin"),
        campaign_id: PlainText | None = Query(None, max_length=100),
    ) -> StatementView:
        found = await reimbursements.statement(app.uow(), principal, affiliate_id, campaign_id)
        totals = found.totals
        return StatementView(
            affiliate_id=affiliate_id, campaign_id=campaign_id, count=totals.count,
            redeemed_cents=totals.redeemed_cents, reimbursed_cents=totals.reimbursed_cents,
            in_payment_cents=totals.in_payment_cents, pending_cents=totals.pending_cents,
            redemptions=[
                StatementRedemption(redemption_id=line.redemption_id, ticket_id=line.ticket_id,
                                    campaign_id=line.campaign_id, amount_cents=line.amount_cents,
                                    redeemed_at=line.redeemed_at, status=line.status.value, batch_id=batch_id)
                for line, batch_id in found.lines
            ],
        )

    @routes.get("/stats", tags=["figures"])
    async def stats(campaign_id: PlainText | None = Query(None, max_length=100),
                    principal: Principal = require("admin")) -> AffiliationFigures:
        """Reimbursed, in payment and pending (amounts and counts), overall and per organisation, in one
        answer: what `carnet report` reads instead of each organisation's statement."""
        return AffiliationFigures.of(await reimbursements.figures(app.uow(), campaign_id))

    batches = APIRouter(prefix="/reimbursement-batches", tags=["reimbursement"])

    @batches.post("", status_code=201)
    async def create_batch(body: BatchIn | None = None, principal: Principal = require("admin")) -> BatchView:
        """Answered once its ReimbursementBatchCreated is on Kafka (CARNET_AFFILIATION_BATCH_PUBLISH_WAIT_SECONDS
        at most): a redemption it holds is then refused an admin's cancel at the redemption service."""
        body = body or BatchIn()
        uow = app.uow()
        batch = await reimbursements.create_batch(uow, CreateBatch(principal.sub, body.campaign_id,
                                                                   body.execution_date))
        within = app.settings.batch_publish_wait_seconds
        if not await app.service.outbox.published(uow.committed_event_ids, within=within):
            log.warning("reimbursement batch answered before its event reached Kafka: the relay will publish it",
                        extra={"batch_id": batch.batch_id, "waited_seconds": within})
        return BatchView.of(batch)

    @batches.get("/{batch_id}")
    async def get_batch(batch_id: PlainText, principal: Principal = require("admin")) -> BatchView:
        return BatchView.of(await reimbursements.batch(app.uow(), batch_id))

    @batches.get("/{batch_id}/sepa.xml", response_class=Response,
                 responses=_file("application/xml", "The SEPA credit transfer file (pain.001.001.03)"))
    async def sepa_file(batch_id: PlainText, principal: Principal = require("admin")) -> Response:
        files = await reimbursements.files(app.uow(), batch_id)
        return _attachment(files.sepa_xml, "application/xml", f"remboursements-{batch_id}.xml")

    @batches.get("/{batch_id}/transfers.csv", response_class=Response,
                 responses=_file("text/csv", "The transfers, `;`-separated, amounts in cents and in euros"))
    async def csv_file(batch_id: PlainText, principal: Principal = require("admin")) -> Response:
        files = await reimbursements.files(app.uow(), batch_id)
        return _attachment(files.transfers_csv, "text/csv; charset=utf-8", f"remboursements-{batch_id}.csv")

    @batches.post("/{batch_id}/paid")
    async def paid(batch_id: PlainText, principal: Principal = require("admin")) -> BatchView:
        return BatchView.of(await reimbursements.mark_paid(app.uow(), batch_id))

    routes.include_router(batches)
    return routes
