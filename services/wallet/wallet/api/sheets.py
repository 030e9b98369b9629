"""Ticket sheets as PDF: one pupil's page, a ticket e-mail's sheet as it was asked, and a school's
pages for several pupils."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Annotated
from uuid import UUID

from fastapi import APIRouter, Query
from fastapi.responses import Response
from prometheus_client import Histogram

from carnet_runtime.auth import Principal, require
from carnet_runtime.errors import invalid_fields

from ..application import SHEET_SCOPE
from ..sheet import render_sheet, render_sheets
from ..views import emailed_sheet_of, sheet_of, sheets_of
from .parsing import OpaqueId, parse_positions, parse_wallet_ids

if TYPE_CHECKING:
    from ..app import WalletApp

SHEET_SECONDS = Histogram("carnet_wallet_sheet_render_seconds", "Time to render one ticket sheet",
                          buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1))
PDF = {200: {"content": {"application/pdf": {}}, "description": "A4 pages of tickets"}}


def pdf_answer(pdf: bytes, filename: str) -> Response:
    return Response(pdf, media_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="{filename}"',
        "Cache-Control": "no-store",  # the sheet holds spendable codes
    })


def router(app: WalletApp) -> APIRouter:
    routes = APIRouter(prefix="/v1", tags=["wallet"])
    use_cases = app.use_cases

    @routes.get("/wallets/{wallet_id}/tickets.pdf", response_class=Response, responses=PDF)
    async def sheet(wallet_id: UUID, positions: str | None = None,
                    request_id: Annotated[UUID | None, Query(
                        description="A ticket e-mail's request: its sheet as it was asked (notification service)")] = None,
                    principal: Principal = require("family", "correspondent", "service", "admin",
                                                   service_scope=SHEET_SCOPE)) -> Response:
        """One A4 page with the requested credited tickets (`positions=1,2,3`; all credited when absent),
        or, with `request_id`, the sheet of that ticket e-mail as it was when asked."""
        if request_id is not None:
            if positions is not None:
                raise invalid_fields({"positions": "sans objet avec request_id"})
            emailed = await use_cases.emailed_sheet(app.uow(), principal, wallet_id, request_id)
            page = emailed_sheet_of(emailed)
        else:
            page = sheet_of(await use_cases.sheet(app.uow(), principal, wallet_id, parse_positions(positions)))
        with SHEET_SECONDS.time():
            pdf = await asyncio.to_thread(render_sheet, page)
        return pdf_answer(pdf, "tickets-pass.pdf")

    @routes.get("/schools/{school_id}/tickets.pdf", response_class=Response, responses=PDF)
    async def school_sheets(school_id: OpaqueId,
                            wallet_ids: Annotated[str, Query(description="Wallet ids, comma-separated (1 to 200)")],
                            principal: Principal = require("correspondent", "admin")) -> Response:
        """The credited tickets of those wallets of the school, in one PDF: a page per pupil, in the
        order given."""
        shown = await use_cases.school_sheet(app.uow(), principal, school_id, parse_wallet_ids(wallet_ids))
        pages = [page for one in shown for page in sheets_of(one)]
        pdf = await asyncio.to_thread(render_sheets, pages)
        return pdf_answer(pdf, "tickets-college.pdf")

    return routes
