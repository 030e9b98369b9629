"""The roster route: the school's student list, as a CSV body or a form upload."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, Request

from carnet_runtime import PlainText
from carnet_runtime.auth import Principal, require

from ..application import rosters
from .views import RosterImportView

if TYPE_CHECKING:
    from ..app import EnrolmentApp

ROSTER_PATH = "/v1/schools/{school_id}/roster"  # its own body limit (app.py)


def router(app: EnrolmentApp) -> APIRouter:
    r = APIRouter()
    limits = rosters.RosterLimits(app.settings.roster_max_lines, app.settings.roster_rejected_shown)

    @r.post(
        ROSTER_PATH.removeprefix("/v1"),
        summary="Import the school's student list (CSV `;`: nom, prénom, date de naissance, niveau)",
        openapi_extra={"requestBody": {"required": True, "content": {
            "text/csv": {"schema": {"type": "string", "format": "binary"}},
            "multipart/form-data": {"schema": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}}},
        }}},
    )
    async def import_roster(school_id: PlainText, request: Request, validate_matched: bool = False,
                            principal: Principal = require("correspondent")) -> RosterImportView:
        command = rosters.ImportRoster(school_id, await request.body(), request.headers.get("content-type", ""),
                                       validate_matched)
        done = await rosters.import_roster(app.uow(), principal, command, limits, now=app.clock())
        return RosterImportView.of(done)

    return r
