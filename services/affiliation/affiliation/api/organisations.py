"""Organisations: affiliation by staff, a new activation link, the directory, details (and their
changes, the IBAN's by code), suspension."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query, Request

from carnet_runtime import PlainText
from carnet_runtime.auth import Principal, require

from ..application.iban_changes import ConfirmIbanChange, RequestIbanChange
from ..application.organisations import ChangeDetails, ChangeStatus, CreateAffiliate, DirectoryQuery
from ..domain.organisation import Activity, Address, masked_iban
from ..wiring import Affiliation
from .common import client_address
from .schemas import (
    AffiliateCreated,
    AffiliateIn,
    AffiliatePatch,
    AffiliateSummary,
    AffiliateView,
    DirectoryPage,
    IbanChangedView,
    IbanChangeRequestedView,
    IbanIn,
    OtpIn,
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

    @routes.patch("/affiliates/{affiliate_id}", tags=["affiliates"])
    async def change_details(affiliate_id: PlainText, body: AffiliatePatch, request: Request,
                             principal: Principal = require("affiliate", "admin")) -> AffiliateView:
        """Contact e-mail, postal address, activity; a new contact e-mail is told to the old one."""
        address = body.address
        affiliate = await organisations.change_details(app.uow(), ChangeDetails(
            principal, affiliate_id, client_address(request), contact_email=body.contact_email,
            address=Address(address.line, address.postcode, address.city) if address else None,
            activity=body.activity.value if body.activity else None,
        ))
        return AffiliateView.of(affiliate)

    @routes.post("/affiliates/{affiliate_id}/iban-change", status_code=202, tags=["affiliates"])
    async def request_iban_change(affiliate_id: PlainText, body: IbanIn, request: Request,
                                  principal: Principal = require("affiliate", "admin")) -> IbanChangeRequestedView:
        """E-mails a code to the current contact; 429 OTP_LIMIT_REACHED (Retry-After) past the hour's codes or tries."""
        requested = await app.iban_changes.request(app.uow(), RequestIbanChange(
            principal, affiliate_id, client_address(request), body.iban))
        return IbanChangeRequestedView(affiliate_id=requested.affiliate_id, new_iban=masked_iban(requested.new_iban),
                                       otp_expires_at=requested.expires_at)

    @routes.post("/affiliates/{affiliate_id}/iban-change/confirm", tags=["affiliates"])
    async def confirm_iban_change(affiliate_id: PlainText, body: OtpIn, request: Request,
                                  principal: Principal = require("affiliate", "admin")) -> IbanChangedView:
        """The new IBAN is the one the next reimbursement batch pays (a batch already made keeps its own)."""
        changed = await app.iban_changes.confirm(app.uow(), ConfirmIbanChange(
            principal, affiliate_id, client_address(request), body.otp))
        affiliate = changed.affiliate
        return IbanChangedView(affiliate_id=affiliate.affiliate_id, iban=masked_iban(affiliate.organisation.iban),
                               changed_at=changed.changed_at)

    @routes.post("/affiliates/{affiliate_id}/suspend", tags=["affiliates"])
    async def suspend_affiliate(affiliate_id: PlainText, request: Request, body: SuspendIn | None = None,
                                principal: Principal = require("admin")) -> StatusView:
        affiliate = await organisations.suspend(app.uow(), ChangeStatus(
            principal, affiliate_id, client_address(request), body.reason if body else None))
        return StatusView(affiliate_id=affiliate.affiliate_id, status=affiliate.status.value)

    @routes.post("/affiliates/{affiliate_id}/reinstate", tags=["affiliates"])
    async def reinstate_affiliate(affiliate_id: PlainText, request: Request,
                                  principal: Principal = require("admin")) -> StatusView:
        affiliate = await organisations.reinstate(app.uow(), ChangeStatus(principal, affiliate_id,
                                                                           client_address(request)))
        return StatusView(affiliate_id=affiliate.affiliate_id, status=affiliate.status.value)

    return routes
