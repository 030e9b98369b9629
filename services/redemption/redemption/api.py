"""HTTP routes for affiliate scanners (API.md, Redemption)."""

from __future__ import annotations

import json
from datetime import date, datetime, time
from time import time as unix_time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from jwt.utils import base64url_decode
from pydantic import BaseModel, Field

from carnet_runtime import Forbidden, Invalid, Unauthenticated
from carnet_runtime.auth import Principal, TokenVerifier

from .domain import PARIS, validity_end
from .scanner import Scanner

MAX_IDEMPOTENCY_KEY_LENGTH = 200

_REFUSALS = {
    403: "AFFILIATE_NOT_ACTIVE (or a token that is not an affiliate's)",
    404: "TICKET_UNKNOWN",
    409: "TICKET_ALREADY_REDEEMED (details.redeemed_at), TICKET_EXPIRED (details.valid_until, expired_since), "
         "TICKET_VOIDED, TICKET_RESERVED_FOR_OTHER_AFFILIATE",
    422: "CODE_MALFORMED, IDEMPOTENCY_KEY_REUSED, VALIDATION_ERROR",
    429: "TOO_MANY_UNKNOWN_CODES (Retry-After header, details.retry_after_seconds)",
}
_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"description": f"{{error: {{code, message, details}}}}: {codes}"} for status, codes in _REFUSALS.items()
}


class RedeemTicket(BaseModel):
    ticket_code: str = Field(max_length=200, description="What the barcode holds or the person typed.")


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
        expires = json.loads(base64url_decode(token.split(".")[1].encode()))["exp"]
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[token] = (principal, min(float(expires), now + self.max_age_seconds), verifier.generation)
        return principal


def affiliate_dependency(tokens: VerifiedTokens):
    async def affiliate_principal(
        request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)
    ) -> Principal:
        """carnet_runtime.auth.require("affiliate"), but async (FastAPI runs a sync dependency in a worker
        thread: two thread hops per request) and remembering verified tokens: on the scanner's hot path
        both cost more than the redemption's own work."""
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise Unauthenticated("AUTHENTICATION_REQUIRED", "Veuillez vous identifier pour accéder à ce service.")
        principal = tokens.principal(credentials.credentials, request.app.state.token_verifier)
        if principal.role != "affiliate":
            raise Forbidden("FORBIDDEN", "Vous n'avez pas accès à cette fonction.")
        return principal

    return Depends(affiliate_principal)


def affiliate_of(principal: Principal) -> str:
    if not principal.affiliate_id:
        raise Forbidden("FORBIDDEN", "Ce compte n'est rattaché à aucun organisme affilié.")
    return principal.affiliate_id


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
        raise Invalid(
            "VALIDATION_ERROR",
            "La période demandée est invalide : utilisez une date AAAA-MM-JJ ou une date et heure ISO 8601.",
            details={"fields": [{"field": field, "problem": "not a date or an ISO 8601 date-time"}]},
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=PARIS)


def router(scanner: Scanner) -> APIRouter:
    routes = APIRouter(prefix="/v1", tags=["redemption"])
    affiliate = affiliate_dependency(VerifiedTokens())

    @routes.post("/redemptions", status_code=201, responses=_ERROR_RESPONSES)
    async def redeem(
        body: RedeemTicket,
        idempotency_key: Annotated[str, Header(min_length=1, max_length=MAX_IDEMPOTENCY_KEY_LENGTH)],
        principal: Principal = affiliate,
    ) -> JSONResponse:
        """Spend a ticket. The same Idempotency-Key again returns the first answer."""
        answered = await scanner.redeem(affiliate_of(principal), idempotency_key, body.ticket_code)
        return JSONResponse(answered.body, status_code=answered.status_code)

    @routes.get("/tickets/{ticket_code}", responses=_ERROR_RESPONSES)
    async def check(ticket_code: str, principal: Principal = affiliate) -> dict[str, Any]:
        """What redeeming would do now, without redeeming."""
        return await scanner.check(affiliate_of(principal), ticket_code)

    @routes.get("/redemptions")
    async def redemptions(
        principal: Principal = affiliate,
        since: Annotated[str | None, Query(alias="from")] = None,
        until: Annotated[str | None, Query(alias="to")] = None,
        limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
    ) -> dict[str, Any]:
        """The affiliate's own redemptions, oldest first; `from`/`to` are Paris days (inclusive) or instants."""
        return await scanner.redemptions(
            affiliate_of(principal),
            _instant(since, "from", end_of_day=False),
            _instant(until, "to", end_of_day=True),
            limit,
        )

    @routes.post("/redemptions/{redemption_id}/cancel")
    async def cancel(redemption_id: str, principal: Principal = affiliate) -> dict[str, Any]:
        """Undo a mistaken redemption within the campaign's grace period: the ticket is redeemable again."""
        return await scanner.cancel(affiliate_of(principal), redemption_id)

    return routes
