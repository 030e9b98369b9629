"""HTTP conventions every service shares: the error body of API.md, request metrics."""

from __future__ import annotations

import logging
import time

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import Histogram
from starlette.exceptions import HTTPException as StarletteHTTPException

from .errors import DomainError

log = logging.getLogger(__name__)

HTTP_LATENCY = Histogram(
    "carnet_http_request_duration_seconds",
    "HTTP requests by route, method and status",
    ["service", "method", "route", "status"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)

_STATUS_CODES = {
    400: ("BAD_REQUEST", "La demande est mal formée."),
    401: ("AUTHENTICATION_REQUIRED", "Veuillez vous identifier pour accéder à ce service."),
    403: ("FORBIDDEN", "Vous n'avez pas accès à cette fonction."),
    404: ("NOT_FOUND", "Cette ressource n'existe pas."),
    405: ("METHOD_NOT_ALLOWED", "Cette opération n'est pas possible ici."),
    406: ("NOT_ACCEPTABLE", "Ce format de réponse n'est pas proposé."),
    413: ("PAYLOAD_TOO_LARGE", "Le fichier envoyé est trop volumineux."),
    415: ("UNSUPPORTED_MEDIA_TYPE", "Ce type de contenu n'est pas accepté."),
}


def error_response(status: int, code: str, message: str, details: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, "details": details or {}}}, status_code=status)


def _field_path(loc: tuple) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def domain_error(_: Request, exc: DomainError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status, headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        fields = [{"field": _field_path(tuple(e["loc"])), "problem": e["msg"], "type": e["type"]} for e in exc.errors()]
        return error_response(
            422,
            "VALIDATION_ERROR",
            "Certains champs sont manquants ou invalides : vérifiez la saisie.",
            {"fields": fields},
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code, message = _STATUS_CODES.get(exc.status_code, ("HTTP_ERROR", "La demande n'a pas pu aboutir."))
        return error_response(exc.status_code, code, message)

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error", extra={"error": type(exc).__name__})
        return error_response(500, "INTERNAL_ERROR", "Une erreur inattendue s'est produite : réessayez dans un instant.")


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
