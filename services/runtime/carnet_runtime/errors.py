"""The error model of API.md: every refusal is a stable code, a French sentence and details.

One type, `Refusal`, raised by domain rules, application services and the runtime alike. Its HTTP
status is not the raiser's business: it comes from one table per service (`REFUSALS` given to
`Service`), merged with the runtime's own codes below, and the runtime alone turns a refusal into the
body `{"error": {"code", "message", "details"}}` (see `http.py`). A refusal changes nothing: it is
raised before anything is written, or its transaction rolls back.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class Refusal(Exception):
    """A request the rules refuse. `code` is stable (UPPER_SNAKE, listed in API.md or the service's
    README), `message` is a French sentence for the person at the screen or the counter, `details`
    are facts a client may act on. `retry_after` (seconds) becomes a `Retry-After` header."""

    def __init__(
        self,
        code: str,
        message: str,
        details: Mapping[str, Any] | None = None,
        *,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(code)
        self.code = code
        self.message = message
        self.details: dict[str, Any] = dict(details or {})
        self.retry_after = retry_after

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}

    def __repr__(self) -> str:  # never the message: it may quote what a person typed
        return f"Refusal({self.code!r})"


def field_errors(problems: Mapping[str, str]) -> dict[str, Any]:
    """Details in the shape of request validation errors: `{"fields": [{"field", "problem"}]}`."""
    return {"fields": [{"field": field, "problem": problem} for field, problem in problems.items()]}


VALIDATION_MESSAGE = "Certains champs sont manquants ou invalides : vérifiez la saisie."


def invalid_fields(problems: Mapping[str, str]) -> Refusal:
    """The 422 VALIDATION_ERROR refusal for fields a rule found malformed or out of range."""
    return Refusal("VALIDATION_ERROR", VALIDATION_MESSAGE, field_errors(problems))


# The codes the runtime itself answers with, whatever the service.
RUNTIME_REFUSALS: dict[str, int] = {
    "BAD_REQUEST": 400,
    "AUTHENTICATION_REQUIRED": 401,
    "TOKEN_INVALID": 401,
    "TOKEN_EXPIRED": 401,
    "FORBIDDEN": 403,
    "NOT_FOUND": 404,
    "METHOD_NOT_ALLOWED": 405,
    "NOT_ACCEPTABLE": 406,
    "CONFLICT": 409,
    "PAYLOAD_TOO_LARGE": 413,
    "UNSUPPORTED_MEDIA_TYPE": 415,
    "VALIDATION_ERROR": 422,
    "TOO_MANY_REQUESTS": 429,
    "INTERNAL_ERROR": 500,
    "SERVICE_UNAVAILABLE": 503,
}


class RefusalStatuses:
    """The one table from refusal codes to HTTP statuses of a service: the runtime's codes and the
    service's own. A code missing from the table is a programming error, answered 500 and logged."""

    def __init__(self, service_refusals: Mapping[str, int] | None = None) -> None:
        overlap = {c for c, s in (service_refusals or {}).items() if RUNTIME_REFUSALS.get(c, s) != s}
        if overlap:
            raise ValueError(f"refusal codes given another status than the runtime's: {sorted(overlap)}")
        self._statuses = {**RUNTIME_REFUSALS, **(service_refusals or {})}

    def status(self, code: str) -> int | None:
        return self._statuses.get(code)

    def codes(self, status: int) -> list[str]:
        return sorted(code for code, s in self._statuses.items() if s == status)

    def items(self) -> list[tuple[str, int]]:
        return sorted(self._statuses.items())


# --- until every service raises Refusal (issue 18): the old names, each with its fixed status ----------


class DomainError(Refusal):
    status: int = 409

    def __init__(self, code: str, message: str, *, status: int | None = None,
                 details: Mapping[str, Any] | None = None) -> None:
        super().__init__(code, message, details)
        if status is not None:
            self.status = status


class NotFound(DomainError):
    status = 404


class Invalid(DomainError):
    status = 422


class Forbidden(DomainError):
    status = 403


class Unauthenticated(DomainError):
    status = 401


class Conflict(DomainError):
    status = 409


class TooManyRequests(DomainError):
    status = 429
