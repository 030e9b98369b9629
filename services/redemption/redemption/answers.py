"""Where a domain refusal becomes an HTTP answer: the one place refusal codes meet status codes."""

from __future__ import annotations

from typing import Any

from carnet_runtime import DomainError

from . import domain as d

HTTP_STATUS: dict[str, int] = {
    d.CODE_MALFORMED: 422,
    d.TICKET_UNKNOWN: 404,
    d.TICKET_ALREADY_REDEEMED: 409,
    d.TICKET_EXPIRED: 409,
    d.TICKET_VOIDED: 409,
    d.TICKET_RESERVED_FOR_OTHER_AFFILIATE: 409,
    d.AFFILIATE_NOT_ACTIVE: 403,
    d.IDEMPOTENCY_KEY_REUSED: 422,
    d.TOO_MANY_UNKNOWN_CODES: 429,
    d.REDEMPTION_UNKNOWN: 404,
    d.REDEMPTION_OF_OTHER_AFFILIATE: 403,
    d.CANCEL_PERIOD_OVER: 409,
    d.REDEMPTION_IN_REIMBURSEMENT_BATCH: 409,
}

# Answers that depend on the moment, not on the ticket: never kept as a key's first answer.
NOT_KEPT = frozenset({d.TOO_MANY_UNKNOWN_CODES, d.CODE_MALFORMED, d.IDEMPOTENCY_KEY_REUSED})


def error_body(refusal: d.Refusal) -> dict[str, Any]:
    return {"error": {"code": refusal.code, "message": refusal.message, "details": refusal.details}}


class Answer(DomainError):
    """A refusal as the runtime's error handler answers it, with any extra body fields and headers."""

    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None):
        error = body["error"]
        super().__init__(error["code"], error["message"], status=status, details=error["details"])
        self._body = body
        self.headers = headers

    def body(self) -> dict[str, Any]:
        return self._body


def as_answer(refusal: d.Refusal, **extra: Any) -> Answer:
    headers = None
    if refusal.code == d.TOO_MANY_UNKNOWN_CODES:
        headers = {"Retry-After": str(refusal.details["retry_after_seconds"])}
    return Answer(HTTP_STATUS[refusal.code], {**extra, **error_body(refusal)}, headers)
