"""The error model of API.md: every refusal is a stable code, a French sentence and details."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A refusal decided by a rule. Raised by domain code, answered by the HTTP layer as
    {"error": {"code", "message", "details"}} with its status; it changes nothing."""

    status: int = 409

    def __init__(self, code: str, message: str, *, status: int | None = None, details: dict[str, Any] | None = None):
        super().__init__(code)
        self.code = code
        self.message = message
        if status is not None:
            self.status = status
        self.details = details or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}

    def __repr__(self) -> str:
        return f"DomainError({self.code!r}, status={self.status})"


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
