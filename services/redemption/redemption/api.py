"""HTTP routes for affiliate scanners (API.md, Redemption): parse, call the scanner, render."""

from __future__ import annotations

import base64
import json
from datetime import date, datetime, time
from time import time as unix_time
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Query, Request
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AfterValidator, BaseModel, Field, StringConstraints
from starlette.routing import Route

from carnet_contracts.calendar import PARIS
from carnet_runtime import Refusal, field_errors
from carnet_runtime.auth import Principal, TokenVerifier, bearer_token, forbidden, roles_documented
from carnet_runtime.http import ErrorBody
from carnet_runtime.text import plain_text

from . import views
from .application import LateCorrection
from .domain import Then, validity_end

if TYPE_CHECKING:
    from .app import RedemptionApp

MAX_IDEMPOTENCY_KEY_LENGTH = 200

_REDEEM_REFUSALS = {
    403: "AFFILIATE_NOT_ACTIVE (or FORBIDDEN: a token that is not an affiliate's)",
    404: "TICKET_UNKNOWN",
    409: "TICKET_ALREADY_REDEEMED (details.redeemed_at), TICKET_EXPIRED (details.valid_until, expired_since), "
         "TICKET_VOIDED, TICKET_RESERVED_FOR_OTHER_AFFILIATE",
    422: "CODE_MALFORMED, IDEMPOTENCY_KEY_REUSED, VALIDATION_ERROR",
    429: "TOO_MANY_UNKNOWN_CODES (Retry-After header, details.retry_after_seconds)",
    503: "REDEMPTION_BUSY: the ticket is being redeemed by another request; retry with the same Idempotency-Key",
}
_REDEEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    201: {"model": views.Redeemed, "description": "Spent; the same Idempotency-Key again answers the same"},
    **{status: {"model": ErrorBody, "description": codes} for status, codes in _REDEEM_REFUSALS.items()},
}
_CHECK_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": views.NotRedeemable, "description": f"What redeeming would answer, `redeemable: false` beside "
                                                          f"the error: {_REDEEM_REFUSALS[status]}"}
    for status in (403, 404, 409, 429)
}
_CANCEL_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": codes} for status, codes in {
        403: "REDEMPTION_OF_OTHER_AFFILIATE (or FORBIDDEN: a token that is neither an affiliate's nor the admin's)",
        404: "REDEMPTION_UNKNOWN",
        409: "CANCEL_PERIOD_OVER (details.cancellable_until; the affiliate's cancel only), "
             "REDEMPTION_IN_REIMBURSEMENT_BATCH",
        422: "VALIDATION_ERROR: the admin's cancel without a `reason`",
        503: "SERVICE_UNAVAILABLE (Retry-After header; the admin's cancel only): the reimbursement batches "
             "already made could not be applied here in time; nothing changed, retry",
    }.items()
}


TICKET_CODE_MAX_LENGTH = 200


class RedeemTicket(BaseModel):
    ticket_code: str = Field(max_length=TICKET_CODE_MAX_LENGTH, description="What the barcode holds or the person typed.")


class LateCorrectionBody(BaseModel):
    """The admin's cancel (the affiliate's sends no body)."""

    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500),
                      AfterValidator(plain_text)] = Field(
        description="Why the redemption is cancelled; kept with who and when, and told to the organisation")
    then: Then = Field(Then.REDEEMABLE, description="What the ticket becomes: redeemable again, or voided "
                                                    "(its code refused for ever; the family may credit it again)")


_bearer = HTTPBearer(auto_error=False)


class VerifiedTokens:
    """Tokens already verified, so that a scanner's every request does not verify its signature again.

    An entry is used until the token's own expiry, at most `max_age_seconds`, and only while the
    verifier trusts the same set of keys: a signing key withdrawn from the keys directory stops being
    trusted at the verifier's next refresh, remembered tokens included.
    """

    def __init__(self, max_entries: int = 4096, max_age_seconds: float = 60.0):
        self.max_entries = max_entries
        self.max_age_seconds = max_age_seconds
        self._entries: dict[str, tuple[Principal, float, int]] = {}

    def principal(self, token: str, verifier: TokenVerifier) -> Principal:
        now = unix_time()
        verifier.refresh_if_due()
        entry = self._entries.get(token)
        if entry is not None and now < entry[1] and entry[2] == verifier.generation:
            return entry[0]
        principal = verifier.verify(token)  # raises for a bad or expired token
        payload = token.split(".")[1]
        expires = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["exp"]
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[token] = (principal, min(float(expires), now + self.max_age_seconds), verifier.generation)
        return principal


def _caller(tokens: VerifiedTokens, verifier: TokenVerifier, credentials: HTTPAuthorizationCredentials | None,
            roles: tuple[str, ...]) -> Principal:
    """carnet_runtime.auth.require(*roles), remembering verified tokens: on the scanner's hot path a
    signature check costs more than the redemption's own work. 401 without a valid token, 403 for a
    role not in `roles` and for an affiliate's token without its organisation."""
    principal = tokens.principal(bearer_token(credentials), verifier)
    if principal.role not in roles:
        raise forbidden()
    if principal.role == "affiliate" and not principal.affiliate_id:
        raise forbidden("Ce compte n'est rattaché à aucun organisme affilié.")
    return principal


def affiliate_dependency(tokens: VerifiedTokens, verifier: TokenVerifier):
    """The affiliate the request acts for (its `affiliate_id`)."""

    async def affiliate_id(credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> str:
        return _caller(tokens, verifier, credentials, ("affiliate",)).affiliate_id  # type: ignore[return-value]

    return Depends(roles_documented(affiliate_id, ("affiliate",)))


def principal_dependency(tokens: VerifiedTokens, verifier: TokenVerifier, roles: tuple[str, ...]):
    """The caller, one of `roles`."""

    async def principal(credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> Principal:
        return _caller(tokens, verifier, credentials, roles)

    return Depends(roles_documented(principal, roles))


class FastRedeem:
    """POST /v1/redemptions for the request as a scanner sends it (a JSON body whose `ticket_code` is a
    string of at most 200 characters, an Idempotency-Key of 1 to 200 characters, a bearer token), without
    FastAPI's dependency and validation machinery (a fifth of the service's time per redemption). The
    checks and the answers are the documented route's own (its token dependency's `_caller`, the use
    case, the same JSONResponse, the same refusals through the service's handlers); any other request,
    malformed in any way, is handed to the documented route, body replayed, for FastAPI's own answer."""

    def __init__(self, app: RedemptionApp, tokens: VerifiedTokens, documented: APIRoute):
        self.scanner, self.store = app.scanner, app.scanner_store
        self.verifier = app.service.token_verifier
        self.tokens = tokens
        self.documented = documented

    async def __call__(self, scope, receive, send) -> None:
        scope["route"] = self.documented  # for the request metrics and traces: the documented route
        request = Request(scope, receive)
        body = await request.body()
        headers = request.headers
        key = headers.get("idempotency-key")
        code = None
        if key and len(key) <= MAX_IDEMPOTENCY_KEY_LENGTH and headers.get("content-type") == "application/json":
            try:
                sent = json.loads(body)
            except ValueError:
                sent = None
            code = sent.get("ticket_code") if isinstance(sent, dict) else None
        if not isinstance(code, str) or len(code) > TICKET_CODE_MAX_LENGTH:
            await self.documented.handle(scope, _replay(body), send)
            return
        affiliate_id = _caller(self.tokens, self.verifier, await _bearer(request), ("affiliate",)).affiliate_id
        assert affiliate_id is not None
        answer = await self.scanner.redeem(self.store, affiliate_id, key, code)
        await JSONResponse(answer.body, status_code=answer.status_code)(scope, receive, send)


def _replay(body: bytes):
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


def _instant(text: str | None, field: str, *, end_of_day: bool) -> datetime | None:
    """A bound of the list: a Europe/Paris calendar day (inclusive) or an ISO 8601 instant."""
    if not text:
        return None
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return validity_end(day) if end_of_day else datetime.combine(day, time.min, tzinfo=PARIS)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise Refusal(
            "VALIDATION_ERROR",
            "La période demandée est invalide : utilisez une date AAAA-MM-JJ ou une date et heure ISO 8601.",
            field_errors({field: "not a date or an ISO 8601 date-time"}),
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=PARIS)


def router(app: RedemptionApp) -> APIRouter:
    scanner, store = app.scanner, app.scanner_store
    routes = APIRouter(prefix="/v1", tags=["redemption"])
    tokens = VerifiedTokens()
    affiliate = affiliate_dependency(tokens, app.service.token_verifier)
    affiliate_or_admin = principal_dependency(tokens, app.service.token_verifier, ("affiliate", "admin"))

    # The hot path answers the key's kept answer as it is, with its status (a 201, or a refusal kept for
    # the key): not validated again by a response model (+4 to 9 us per request, measured), the 201
    # body is checked against views.Redeemed by a unit test instead. It is served by FastRedeem (added
    # below, ahead of it) for the well-formed request; this route documents it and answers the others.
    @routes.post("/redemptions", status_code=201, response_class=JSONResponse, responses=_REDEEM_RESPONSES)
    async def redeem(
        body: RedeemTicket,
        idempotency_key: Annotated[str, Header(min_length=1, max_length=MAX_IDEMPOTENCY_KEY_LENGTH)],
        affiliate_id: str = affiliate,
    ) -> JSONResponse:
        """Spend a ticket. The same Idempotency-Key again returns the first answer."""
        answer = await scanner.redeem(store, affiliate_id, idempotency_key, body.ticket_code)
        return JSONResponse(answer.body, status_code=answer.status_code)

    documented = routes.routes[-1]
    assert isinstance(documented, APIRoute)
    routes.routes.insert(len(routes.routes) - 1, Route(
        f"{routes.prefix}/redemptions", FastRedeem(app, tokens, documented), methods=["POST"], include_in_schema=False))

    @routes.get("/tickets/{ticket_code}", response_model=views.RedeemableTicket, responses=_CHECK_RESPONSES)
    async def check(ticket_code: str, affiliate_id: str = affiliate) -> views.RedeemableTicket | JSONResponse:
        """What redeeming would do now, without redeeming."""
        return views.ticket_check(await scanner.check(store, affiliate_id, ticket_code))

    @routes.get("/redemptions")
    async def redemptions(
        affiliate_id: str = affiliate,
        since: Annotated[str | None, Query(alias="from")] = None,
        until: Annotated[str | None, Query(alias="to")] = None,
        limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
    ) -> views.RedemptionListView:
        """The affiliate's own redemptions, oldest first; `from`/`to` are Paris days (inclusive) or instants."""
        found = await scanner.redemptions(
            store,
            affiliate_id,
            _instant(since, "from", end_of_day=False),
            _instant(until, "to", end_of_day=True),
            limit,
        )
        return views.redemption_list(found)

    @routes.post("/redemptions/{redemption_id}/cancel", responses=_CANCEL_RESPONSES)
    async def cancel(
        redemption_id: str,
        body: Annotated[LateCorrectionBody | None, Body()] = None,
        principal: Principal = affiliate_or_admin,
    ) -> views.RedemptionView:
        """The affiliate who redeemed, within the campaign's grace period, no body: the ticket is redeemable
        again. The admin, at any time before the redemption is in a reimbursement batch, with a `reason`:
        the ticket is redeemable again or voided (`then`). Cancelling twice is harmless."""
        correction = LateCorrection(body.reason, body.then) if body is not None else None
        return views.redemption(await scanner.cancel_as(app.uow(), principal, redemption_id, correction))

    return routes
