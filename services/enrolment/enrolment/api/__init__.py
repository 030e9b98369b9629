"""HTTP routes of the enrolment service (API.md, Enrolment): parse the request, call one use case,
answer with a response model. Split by aggregate; `router(app)` gathers them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter

from . import applications, campaigns, rosters

if TYPE_CHECKING:
    from ..app import EnrolmentApp


def router(app: EnrolmentApp) -> APIRouter:
    gathered = APIRouter(prefix="/v1", tags=["enrolment"])
    for part in (campaigns, applications, rosters):
        gathered.include_router(part.router(app))
    return gathered
