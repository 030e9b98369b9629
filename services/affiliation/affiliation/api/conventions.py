"""The electronic convention: its text, the four steps, the audit trail."""

from __future__ import annotations

from fastapi import APIRouter, Request

from carnet_runtime import PlainText
from carnet_runtime.auth import Principal, require

from ..application.conventions import TakeStep
from ..wiring import Affiliation
from .common import client_address
from .schemas import AuditTrailView, CodeSentView, ConventionView, ReadIn, SignedView, SignIn, StepView


def router(app: Affiliation) -> APIRouter:
    routes = APIRouter(prefix="/v1/affiliates/{affiliate_id}", tags=["convention"])
    conventions = app.conventions
    document = conventions.document

    @routes.get("/convention")
    async def get_convention(affiliate_id: PlainText,
                             principal: Principal = require("affiliate", "admin")) -> ConventionView:
        affiliate = await conventions.of(app.uow(), principal, affiliate_id)
        progress = affiliate.convention
        return ConventionView(version=document.version, sha256=document.sha256, text=document.text,
                              step=progress.step.value, next_step=progress.next_action,
                              otp_expires_at=progress.otp_expires_at, signed_at=affiliate.signed_at)

    @routes.post("/convention/read")
    async def read(affiliate_id: PlainText, body: ReadIn, request: Request,
                   principal: Principal = require("affiliate")) -> StepView:
        taken = await conventions.read(app.uow(), TakeStep(principal, affiliate_id, client_address(request),
                                                           sha256=body.sha256))
        return StepView.of(taken.progress, taken.record)

    @routes.post("/convention/accept")
    async def accept(affiliate_id: PlainText, request: Request,
                     principal: Principal = require("affiliate")) -> StepView:
        taken = await conventions.accept(app.uow(), TakeStep(principal, affiliate_id, client_address(request)))
        return StepView.of(taken.progress, taken.record)

    @routes.post("/convention/otp", status_code=202)
    async def send_otp(affiliate_id: PlainText, request: Request,
                       principal: Principal = require("affiliate")) -> CodeSentView:
        """E-mails a 6-digit code; 429 OTP_LIMIT_REACHED (Retry-After) past the hour's codes or tries."""
        taken = await conventions.send_code(app.uow(), TakeStep(principal, affiliate_id, client_address(request)))
        return CodeSentView(**StepView.of(taken.progress, taken.record).model_dump(),
                            otp_expires_at=taken.progress.otp_expires_at)

    @routes.post("/convention/sign")
    async def sign(affiliate_id: PlainText, body: SignIn, request: Request,
                   principal: Principal = require("affiliate")) -> SignedView:
        taken = await conventions.sign(app.uow(), TakeStep(principal, affiliate_id, client_address(request),
                                                           otp=body.otp))
        return SignedView(**StepView.of(taken.progress, taken.record).model_dump(),
                          status=taken.affiliate.status.value)

    @routes.get("/audit-trail")
    async def audit_trail(affiliate_id: PlainText, principal: Principal = require("admin")) -> AuditTrailView:
        return AuditTrailView.of(affiliate_id, await conventions.audit_trail(app.uow(), affiliate_id))

    return routes
