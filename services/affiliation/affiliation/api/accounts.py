"""Accounts: activation, login, password reset, login reminders."""

from __future__ import annotations

from fastapi import APIRouter, Request

from carnet_runtime import PlainText
from carnet_runtime.auth import Principal, require

from ..application.accounts import LogIn, SetPassword
from ..wiring import Affiliation
from .common import client_address
from .schemas import (
    AccessTokenView,
    AccountView,
    LoginIn,
    PasswordChanged,
    PasswordIn,
    RemindersView,
    ResetRequested,
    ResetRequestIn,
)


def router(app: Affiliation) -> APIRouter:
    routes = APIRouter(prefix="/v1", tags=["accounts"])
    accounts = app.accounts

    @routes.post("/affiliates/{affiliate_id}/activation")
    async def activate(affiliate_id: PlainText, body: PasswordIn, request: Request) -> AccountView:
        affiliate = await accounts.activate(app.uow(), SetPassword(body.token, body.password, affiliate_id,
                                                                   client_address(request)))
        return AccountView(affiliate_id=affiliate.affiliate_id, login=affiliate.login, status=affiliate.status.value)

    @routes.post("/affiliates/activation")
    async def activate_from_link(body: PasswordIn, request: Request) -> AccountView:
        """The same, for a portal that only has the link's token: the token names its account."""
        affiliate = await accounts.activate(app.uow(), SetPassword(body.token, body.password, None,
                                                                   client_address(request)))
        return AccountView(affiliate_id=affiliate.affiliate_id, login=affiliate.login, status=affiliate.status.value)

    @routes.post("/auth/token")
    async def login(body: LoginIn, request: Request) -> AccessTokenView:
        """401 for wrong credentials; 429 (Retry-After) for a client that failed too often on this
        account or on too many accounts. Failures slow down the next attempts on the account."""
        token = await accounts.log_in(app.uow(), LogIn(body.login, body.password, client_address(request)))
        return AccessTokenView(access_token=token.token, expires_in=token.expires_in)

    @routes.post("/auth/password-reset", status_code=202)
    async def request_reset(body: ResetRequestIn) -> ResetRequested:
        """Always the same answer, so that the form does not tell which logins exist."""
        await accounts.request_reset(app.uow(), body.login)
        return ResetRequested()

    @routes.post("/auth/password-reset/confirm")
    async def confirm_reset(body: PasswordIn, request: Request) -> PasswordChanged:
        affiliate = await accounts.confirm_reset(app.uow(), SetPassword(body.token, body.password, None,
                                                                        client_address(request)))
        return PasswordChanged(affiliate_id=affiliate.affiliate_id, login=affiliate.login)

    @routes.post("/campaigns/{campaign_id}/login-reminders", status_code=202)
    async def login_reminders(campaign_id: PlainText, principal: Principal = require("admin")) -> RemindersView:
        """Remind now, instead of waiting for the campaign's opening day; nobody is reminded twice."""
        return RemindersView(campaign_id=campaign_id, reminded=await app.campaigns.remind(app.uow(), campaign_id))

    return routes
