"""Organisations: affiliation by staff, a new activation link, the directory, details, suspension."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query, Request

from carnet_runtime import PlainText
from carnet_runtime.auth import Principal, require

from ..application.organisations import ChangeStatus, CreateAffiliate, DirectoryQuery
from ..domain.organisation import Activity, Address
from ..wiring import Affiliation
from .common import client_address
from .schemas import (
    AffiliateCreated,
    AffiliateIn,
    AffiliateSummary,
    AffiliateView,
    DirectoryPage,
    StatusView,
    SuspendIn,
)


def router(app: Affiliation) -> APIRouter:
    routes = APIRouter(prefix="/v1")
    organisations = app.organisations

    @routes.post("/affiliates", status_code=201, tags=["affiliates"])
    async def create_affiliate(body: AffiliateIn, principal: Principal = require("admin")) -> AffiliateCreated:
        affiliate = await organisations.create(app.uow(), CreateAffiliate(
            name=body.name, siret=body.siret, activity=body.activity.value,
            address=Address(body.address.line, body.address.postcode, body.address.city),
            contact_email=body.contact_email, iban=body.iban,
        ))
        return AffiliateCreated(affiliate_id=affiliate.affiliate_id, login=affiliate.login, status="invited")

    @routes.post("/affiliates/{affiliate_id}/invitation", status_code=202, tags=["affiliates"])
    async def reinvite(affiliate_id: PlainText, principal: Principal = require("admin")) -> StatusView:
        """A new activation link when the first one expired or was lost; the earlier link stops working."""
        affiliate = await organisations.reinvite(app.uow(), affiliate_id)
        return StatusView(affiliate_id=affiliate.affiliate_id, status=affiliate.status.value)

    @routes.get("/affiliates", tags=["directory"])
    async def directory(
        principal: Principal = require(),
        city: PlainText | None = Query(None, max_length=100),
        activity: Activity | None = None,
        q: PlainText | None = Query(None, max_length=100),
        status: Literal["invited", "convention_pending", "active", "suspended"] = "active",
        limit: int = Query(100, ge=1, le=500),
        offset: int = Query(0, ge=0),
    ) -> DirectoryPage:
        items = await organisations.directory(app.uow(), DirectoryQuery(
            actor=principal, city=city, activity=activity.value if activity else None, text=q, status=status,
            limit=limit, offset=offset,
        ))
        return DirectoryPage(items=[AffiliateSummary.of(a) for a in items], limit=limit, offset=offset)

    @routes.get("/affiliates/{affiliate_id}", tags=["affiliates"])
    async def get_affiliate(affiliate_id: PlainText,
                            principal: Principal = require("affiliate", "admin")) -> AffiliateView:
        return AffiliateView.of(await organisations.get(app.uow(), principal, affiliate_id))

    @routes.post("/affiliates/{affiliate_id}/suspend", tags=["affiliates"])
    async def suspend_affiliate(affiliate_id: PlainText, request: Request, body: SuspendIn | None = None,
                                principal: Principal = require("admin")) -> StatusView:
        affiliate = await organisations.suspend(app.uow(), ChangeStatus(
            affiliate_id, principal, client_address(request), body.reason if body else None))
        return StatusView(affiliate_id=affiliate.affiliate_id, status=affiliate.status.value)

    @routes.post("/affiliates/{affiliate_id}/reinstate", tags=["affiliates"])
    async def reinstate_affiliate(affiliate_id: PlainText, request: Request,
                                  principal: Principal = require("admin")) -> StatusView:
        affiliate = await organisations.reinstate(app.uow(), ChangeStatus(affiliate_id, principal,
                                                                           client_address(request)))
        return StatusView(affiliate_id=affiliate.affiliate_id, status=affiliate.status.value)

    return routes
