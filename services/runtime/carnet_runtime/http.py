"""HTTP conventions every service shares: the error body of API.md, its place in the OpenAPI
document, a body size limit at the door, request metrics."""

from __future__ import annotations

import logging
import re
import time
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import Histogram
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from .errors import VALIDATION_MESSAGE, DomainError, Refusal, RefusalStatuses

log = logging.getLogger(__name__)

HTTP_LATENCY = Histogram(
    "carnet_http_request_duration_seconds",
    "HTTP requests by route, method and status",
    ["service", "method", "route", "status"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)

# What the framework itself answers (unknown path, wrong method...), in the error shape of API.md.
_FRAMEWORK_ERRORS = {
    400: ("BAD_REQUEST", "La demande est mal formée."),
    401: ("AUTHENTICATION_REQUIRED", "Veuillez vous identifier pour accéder à ce service."),
    403: ("FORBIDDEN", "Vous n'avez pas accès à cette fonction."),
    404: ("NOT_FOUND", "Cette ressource n'existe pas."),
    405: ("METHOD_NOT_ALLOWED", "Cette opération n'est pas possible ici."),
    406: ("NOT_ACCEPTABLE", "Ce format de réponse n'est pas proposé."),
    413: ("PAYLOAD_TOO_LARGE", "La demande envoyée est trop volumineuse."),
    415: ("UNSUPPORTED_MEDIA_TYPE", "Ce type de contenu n'est pas accepté."),
}


class ErrorContent(BaseModel):
    code: str = Field(description="Stable, UPPER_SNAKE: what clients branch on")
    message: str = Field(description="A French sentence for the person at the screen or the counter")
    details: dict[str, Any] = Field(description="Facts a client may act on; `fields` for input errors")


class ErrorBody(BaseModel):
    """Every 4xx/5xx answer of every Carnet service."""

    error: ErrorContent


_ERROR_STATUSES = {
    400: "Malformed request",
    401: "Missing, expired or untrusted token",
    403: "A valid token acting outside its scope",
    404: "Unknown, or not visible to this caller",
    409: "Refused by a rule in the current state",
    413: "Body larger than the service accepts (PAYLOAD_TOO_LARGE)",
    422: "Malformed or out-of-range input (VALIDATION_ERROR with details.fields, or a rule's code)",
    429: "Too many attempts: wait for Retry-After",
}
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description} for status, description in _ERROR_STATUSES.items()
}


def error_response(status: int, code: str, message: str, details: dict | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, "details": details or {}}},
                        status_code=status, headers=headers)


def _field_path(loc: tuple) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def refusal_response(refusal: Refusal, statuses: RefusalStatuses) -> JSONResponse:
    status = refusal.status if isinstance(refusal, DomainError) else statuses.status(refusal.code)
    if status is None:
        log.error("refusal code without an HTTP status in the service's table", extra={"code": refusal.code})
        return error_response(500, "INTERNAL_ERROR", "Une erreur inattendue s'est produite : réessayez dans un instant.")
    headers = {"Retry-After": str(refusal.retry_after)} if refusal.retry_after is not None else None
    headers = headers or getattr(refusal, "headers", None)  # redemption's Answer, until issue 18 is done
    return JSONResponse(refusal.body(), status_code=status, headers=headers)


def install_error_handlers(app: FastAPI, statuses: RefusalStatuses | None = None) -> None:
    table = statuses or RefusalStatuses()

    @app.exception_handler(Refusal)
    async def refused(_: Request, exc: Refusal) -> JSONResponse:
        return refusal_response(exc, table)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        fields = [{"field": _field_path(tuple(e["loc"])), "problem": e["msg"], "type": e["type"]} for e in exc.errors()]
        return error_response(422, "VALIDATION_ERROR", VALIDATION_MESSAGE, {"fields": fields})

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code, message = _FRAMEWORK_ERRORS.get(exc.status_code, ("HTTP_ERROR", "La demande n'a pas pu aboutir."))
        return error_response(exc.status_code, code, message, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error", extra={"error": type(exc).__name__})
        return error_response(500, "INTERNAL_ERROR", "Une erreur inattendue s'est produite : réessayez dans un instant.")


# --- limits at the door ------------------------------------------------------------------------------


def _template_pattern(template: str) -> re.Pattern[str]:
    """`/v1/schools/{school_id}/roster` -> a regex matching that route's paths."""
    parts = re.split(r"(\{[^}]+\})", template)
    return re.compile("^" + "".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts) + "$")


class BodySizeLimit:
    """Pure ASGI middleware: a body larger than the route accepts is answered 413 PAYLOAD_TOO_LARGE
    before it is read (declared Content-Length), or as soon as it streams past the limit (chunked),
    and before authentication, so that an anonymous client cannot make the service parse megabytes."""

    def __init__(self, app, default_limit: int, limits: list[tuple[str, int]] | None = None):
        self.app = app
        self.default_limit = default_limit
        self.limits = [(_template_pattern(t), n) for t, n in (limits or [])]

    def limit_for(self, path: str) -> int:
        for pattern, limit in self.limits:
            if pattern.match(path):
                return limit
        return self.default_limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        if declared is not None:
            try:
                too_large = int(declared) > limit
            except ValueError:
                await _send_error(send, 400, *_FRAMEWORK_ERRORS[400])
                return
            if too_large:
                await _send_error(send, 413, *_FRAMEWORK_ERRORS[413], {"max_bytes": limit})
                return
        received = 0

        async def limited_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # FastAPI turns errors while reading a body into 400, except HTTPException.
                    raise StarletteHTTPException(413)
            return message

        await self.app(scope, limited_receive, send)


async def _send_error(send, status: int, code: str, message: str, details: dict | None = None) -> None:
    response = error_response(status, code, message, details, headers={"Connection": "close"})
    await send({"type": "http.response.start", "status": status, "headers": response.raw_headers})
    await send({"type": "http.response.body", "body": response.body})


# --- metrics ------------------------------------------------------------------------------------------


class RequestMetrics:
    """Pure ASGI middleware timing each request by its route (cheaper than Starlette's BaseHTTPMiddleware)."""

    def __init__(self, app, service: str):
        self.app = app
        self.service = service

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500}

        async def send_and_remember(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_remember)
        finally:
            route = scope.get("route")
            HTTP_LATENCY.labels(
                self.service, scope["method"], getattr(route, "path", "unmatched"), str(status["code"])
            ).observe(time.perf_counter() - started)


def install_request_metrics(app: FastAPI, service: str) -> None:
    app.add_middleware(RequestMetrics, service=service)
