"""Routes of applications: submitted online or on paper, read, listed for a school (JSON or CSV),
validated or rejected."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from carnet_runtime import PlainText
from carnet_runtime.auth import Principal, require

from ..application import applications
from ..domain import Application, ApplicationStatus, PendingRow, pending_csv
from .schemas import ApplicationIn, RejectIn
from .views import ApplicationView

if TYPE_CHECKING:
    from ..app import EnrolmentApp

SCHOOL_VIEW = {"response_model_exclude_unset": True}  # `on_roster` appears in a school's views only


def router(app: EnrolmentApp) -> APIRouter:
    r = APIRouter()

    @r.post("/applications", status_code=201, summary="A family applies for a pass",
            response_model=ApplicationView, **SCHOOL_VIEW)
    async def post_application(body: ApplicationIn, principal: Principal = require("family")) -> ApplicationView:
        command = applications.SubmitApplication(body.model_dump())
        found = await applications.submit_online(app.uow(), principal, command, now=app.clock())
        return ApplicationView.of(found, for_school=False)

    @r.post("/schools/{school_id}/paper-applications", status_code=201,
            summary="The correspondent enters a paper application, for a family without internet",
            response_model=ApplicationView, **SCHOOL_VIEW)
    async def post_paper_application(school_id: PlainText, body: ApplicationIn,
                                     principal: Principal = require("correspondent")) -> ApplicationView:
        command = applications.SubmitPaperApplication(school_id, body.model_dump())
        found = await applications.submit_on_paper(app.uow(), principal, command, now=app.clock())
        return ApplicationView.of(found, for_school=True)

    @r.get("/applications", summary="The applications the caller may see: a family its own, a correspondent its school's",
           response_model=list[ApplicationView], **SCHOOL_VIEW)
    async def list_applications(principal: Principal = require("family", "correspondent")) -> list[ApplicationView]:
        found = await applications.list_applications(app.uow(), principal)
        return [ApplicationView.of(a, for_school=principal.role == "correspondent") for a in found]

    @r.get("/applications/{application_id}", summary="An application: status and history",
           response_model=ApplicationView, **SCHOOL_VIEW)
    async def get_application(application_id: PlainText,
                              principal: Principal = require("family", "correspondent", "admin")) -> ApplicationView:
        found = await applications.get_application(app.uow(), principal, application_id)
        return ApplicationView.of(found, for_school=principal.role != "family")

    @r.get("/schools/{school_id}/applications",
           summary="The school's applications (Accept: text/csv for a `;`-separated file Excel opens)",
           response_model=list[ApplicationView], responses={200: {"content": {"text/csv": {}}}}, **SCHOOL_VIEW)
    async def school_applications(
        school_id: PlainText, request: Request, status: Annotated[ApplicationStatus | None, Query()] = None,
        principal: Principal = require("correspondent", "admin"),
    ) -> list[ApplicationView] | Response:
        found = await applications.school_applications(app.uow(), principal, school_id, status)
        if "text/csv" in request.headers.get("accept", ""):
            name = f"inscriptions-{school_id}-{status.value if status else 'toutes'}.csv"
            return Response(pending_csv(_pending_row(a) for a in found), media_type="text/csv; charset=utf-8",
                            headers={"Content-Disposition": f'attachment; filename="{name}"'})
        return [ApplicationView.of(a, for_school=True) for a in found]

    @r.post("/applications/{application_id}/validate", summary="The school's correspondent validates: the pass is granted",
            response_model=ApplicationView, **SCHOOL_VIEW)
    async def validate(application_id: PlainText, principal: Principal = require("correspondent")) -> ApplicationView:
        found = await applications.validate_application(app.uow(), principal, application_id, now=app.clock())
        return ApplicationView.of(found, for_school=True)

    @r.post("/applications/{application_id}/reject", summary="The school's correspondent rejects, with a reason",
            response_model=ApplicationView, **SCHOOL_VIEW)
    async def reject(application_id: PlainText, body: RejectIn,
                     principal: Principal = require("correspondent")) -> ApplicationView:
        command = applications.RejectApplication(application_id, body.reason)
        found = await applications.reject_application(app.uow(), principal, command, now=app.clock())
        return ApplicationView.of(found, for_school=True)

    return r


def _pending_row(a: Application) -> PendingRow:
    st, gu, ad = a.form.student, a.form.guardian, a.form.address
    return PendingRow(
        a.application_id, a.progress.submitted_at, st.last_name, st.first_name, st.birth_date, st.level,
        gu.last_name, gu.first_name, gu.email, gu.phone, ad.line, ad.postcode, ad.city, a.channel == "paper", a.on_roster,
        a.progress.status.value,
    )
