"""HTTP routes of the enrolment service (API.md, Enrolment): parse, call the domain, answer."""

from __future__ import annotations

import email
import uuid
from datetime import UTC, datetime
from email import policy
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from carnet_contracts.events import (
    ApplicationRejected,
    ApplicationSubmitted,
    CampaignPublished,
    Guardian as GuardianPart,
    PassGranted,
    SchoolRegistered,
    Student as StudentPart,
)
from carnet_runtime.auth import Principal, require
from carnet_runtime.errors import Forbidden
from carnet_runtime.outbox import Outbox

from . import store
from .domain import (
    COLLEGE_LEVELS,
    ApplicationForm,
    ApplicationNotPending,
    ApplicationNotValidated,
    ApplicationProgress,
    ApplicationStatus,
    BirthDateImplausible,
    Campaign,
    CampaignCalendarInvalid,
    DomainError,
    DuplicateApplication,
    EnrolmentClosed,
    LevelNotEligible,
    NotResident,
    PendingRow,
    RosterTooLarge,
    School,
    UnknownApplication,
    UnknownCampaign,
    UnknownSchool,
    ValidationFailed,
    WalletAlreadyRecorded,
    figures,
    parse_roster,
    pending_csv,
)

# The one place where a refusal of the domain becomes an HTTP status.
HTTP_STATUS: dict[type[DomainError], int] = {
    ValidationFailed: 422,
    CampaignCalendarInvalid: 422,
    NotResident: 422,
    LevelNotEligible: 422,
    BirthDateImplausible: 422,
    EnrolmentClosed: 409,
    DuplicateApplication: 409,
    ApplicationNotPending: 409,
    WalletAlreadyRecorded: 409,
    ApplicationNotValidated: 409,
    UnknownCampaign: 404,
    UnknownSchool: 404,
    UnknownApplication: 404,
    RosterTooLarge: 413,
}

ROSTER_MAX_BYTES = 5 * 1024 * 1024


async def domain_error_response(_: Request, exc: DomainError) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": exc.code, "message": exc.message, "details": exc.details}},
        status_code=HTTP_STATUS.get(type(exc), 409),
    )


def _now() -> datetime:
    return datetime.now(UTC)


# --- request bodies: typed loosely so that the domain names every bad field in French ----------


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class CampaignIn(_Body):
    label: str | None = None
    enrolment_opens: str | None = Field(None, examples=["2014-06-01"])
    enrolment_closes: str | None = Field(None, examples=["2014-11-30"])
    pass_valid_until: str | None = Field(None, examples=["2015-03-31"])
    reimbursement_deadline: str | None = Field(None, examples=["2015-04-30"])
    allowance_cents: int | None = Field(None, description="default 7000")
    tickets_per_pass: int | None = Field(None, description="default 7")
    ticket_min_cents: int | None = Field(None, description="default 500")
    ticket_max_cents: int | None = Field(None, description="default 7000")
    eligible_postcode_prefixes: list[str] | None = Field(None, description='default ["92"]')
    eligible_levels: list[str] | None = Field(None, description='default ["6e","5e","4e","3e"]')
    redemption_cancel_grace_minutes: int | None = Field(None, description="default 30")


class SchoolIn(_Body):
    name: str | None = None
    postcode: str | None = None
    city: str | None = None
    correspondent_email: str | None = None


class StudentIn(_Body):
    last_name: str | None = None
    first_name: str | None = None
    birth_date: str | None = Field(None, examples=["2003-05-14"])
    level: str | None = Field(None, examples=["6e"])


class GuardianIn(_Body):
    last_name: str | None = None
    first_name: str | None = None
    email: str | None = None
    phone: str | None = None


class AddressIn(_Body):
    line: str | None = None
    postcode: str | None = None
    city: str | None = None


class ApplicationIn(_Body):
    campaign_id: str | None = None
    school_id: str | None = None
    student: StudentIn | None = None
    guardian: GuardianIn | None = None
    address: AddressIn | None = None


class RejectIn(_Body):
    reason: str | None = None


# --- views ------------------------------------------------------------------------------------


def application_view(a: store.StoredApplication, *, for_school: bool) -> dict[str, Any]:
    form = a.form.as_dict()
    view = {
        "application_id": a.application_id,
        "campaign_id": form["campaign_id"],
        "school_id": form["school_id"],
        "status": a.progress.status.value,
        "history": [{"status": c.status.value, "at": c.at.isoformat()} for c in a.progress.history],
        "rejection_reason": a.progress.rejection_reason,
        "wallet_id": a.progress.wallet_id,
        "channel": a.channel,
        "submitted_at": a.progress.submitted_at.isoformat(),
        "student": form["student"],
        "guardian": form["guardian"],
        "address": form["address"],
    }
    if for_school:
        view["on_roster"] = a.on_roster
    return view


def _pending_row(a: store.StoredApplication) -> PendingRow:
    st, gu, ad = a.form.student, a.form.guardian, a.form.address
    return PendingRow(
        a.application_id, a.progress.submitted_at, st.last_name, st.first_name, st.birth_date, st.level,
        gu.last_name, gu.first_name, gu.email, gu.phone, ad.line, ad.postcode, ad.city, a.channel == "paper", a.on_roster,
        a.progress.status.value,
    )


# --- scope checks -----------------------------------------------------------------------------


def _forbidden() -> Forbidden:
    return Forbidden("FORBIDDEN", "Vous n'avez pas accès à cette fonction.")


def _correspondent_of(principal: Principal, school_id: str, *, admin_too: bool = False) -> None:
    if principal.role == "correspondent" and principal.school_id == school_id:
        return
    if admin_too and principal.role == "admin":
        return
    raise Forbidden(
        "NOT_SCHOOL_CORRESPONDENT",
        "Seul le correspondant de ce collège peut traiter ses inscriptions.",
        details={"school_id": school_id},
    )


def _may_read(principal: Principal, a: store.StoredApplication) -> bool:
    if principal.role == "admin":
        return True
    if principal.role == "correspondent":
        return principal.school_id == a.form.school_id
    if principal.role == "family":
        return a.family_sub is not None and a.family_sub == principal.sub
    return False


def build_router(outbox: Outbox) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["enrolment"])
    anyone = require("family", "correspondent", "admin", "affiliate", "service")
    admin = require("admin")

    def pool(request: Request) -> asyncpg.Pool:
        return request.app.state.service.pool

    # --- campaigns ------------------------------------------------------------------------

    @router.put("/campaigns/{campaign_id}", summary="Publish or change a campaign (admin)")
    async def put_campaign(campaign_id: str, body: CampaignIn, request: Request, principal: Principal = admin) -> dict:
        campaign = Campaign.from_settings(campaign_id, body.model_dump(exclude_none=True))
        async with pool(request).acquire() as conn, conn.transaction():
            before = await store.get_campaign(conn, campaign_id, for_update=True)
            if before != campaign:
                await store.put_campaign(conn, campaign)
                await outbox.add(conn, CampaignPublished(**campaign.settings()))
        return campaign.settings()

    @router.get("/campaigns", summary="Every campaign, the latest first")
    async def list_campaigns(request: Request, principal: Principal = anyone) -> list[dict]:
        async with pool(request).acquire() as conn:
            return [c.settings() for c in await store.list_campaigns(conn)]

    @router.get("/campaigns/{campaign_id}", summary="A campaign: calendar, amounts, eligibility")
    async def get_campaign(campaign_id: str, request: Request, principal: Principal = anyone) -> dict:
        async with pool(request).acquire() as conn:
            campaign = await store.get_campaign(conn, campaign_id)
        if campaign is None:
            raise _unknown_campaign(campaign_id)
        return campaign.settings()

    # --- schools ----------------------------------------------------------------------------

    @router.put("/schools/{school_id}", summary="Create or change a school (admin)")
    async def put_school(school_id: str, body: SchoolIn, request: Request, principal: Principal = admin) -> dict:
        school = School.from_settings(school_id, body.model_dump())
        async with pool(request).acquire() as conn, conn.transaction():
            before = await store.get_school(conn, school_id, for_update=True)
            if before != school:
                await store.put_school(conn, school)
                await outbox.add(conn, SchoolRegistered(**school.as_dict()))
        return school.as_dict()

    @router.get("/schools", summary="Every school")
    async def list_schools(request: Request, principal: Principal = anyone) -> list[dict]:
        async with pool(request).acquire() as conn:
            return [s.as_dict() for s in await store.list_schools(conn)]

    @router.get("/schools/{school_id}", summary="A school")
    async def get_school(school_id: str, request: Request, principal: Principal = anyone) -> dict:
        async with pool(request).acquire() as conn:
            school = await store.get_school(conn, school_id)
        if school is None:
            raise _unknown_school(school_id)
        return school.as_dict()

    # --- applications -------------------------------------------------------------------------

    async def submit(request: Request, raw: dict, *, family_sub: str | None, channel: str, entered_by: str | None) -> dict:
        form = ApplicationForm.parse(raw)
        now = _now()
        async with pool(request).acquire() as conn, conn.transaction():
            campaign = await store.get_campaign(conn, form.campaign_id)
            if campaign is None:
                raise _unknown_campaign(form.campaign_id)
            if await store.get_school(conn, form.school_id) is None:
                raise _unknown_school(form.school_id)
            form = form.check_eligible(campaign, now)
            duplicate = _duplicate(campaign)
            if await store.student_already_applied(conn, campaign.campaign_id, form.student.key):
                raise duplicate
            application_id = str(uuid.uuid4())
            progress = ApplicationProgress.submitted(now)
            try:
                await store.insert_application(
                    conn, application_id, form, progress, family_sub=family_sub, channel=channel, entered_by=entered_by
                )
            except asyncpg.UniqueViolationError:
                raise duplicate from None
            await outbox.add(
                conn,
                ApplicationSubmitted(
                    application_id=application_id, campaign_id=form.campaign_id, school_id=form.school_id,
                    family_sub=family_sub, channel=channel, student=_student(form), guardian=_guardian(form),
                    submitted_at=now,
                ),
            )
            stored = await store.get_application(conn, application_id)
        assert stored is not None
        return application_view(stored, for_school=channel == "paper")

    @router.post("/applications", status_code=201, summary="A family applies for a pass")
    async def post_application(body: ApplicationIn, request: Request, principal: Principal = require("family")) -> dict:
        return await submit(request, body.model_dump(), family_sub=principal.sub, channel="online", entered_by=None)

    @router.post(
        "/schools/{school_id}/paper-applications", status_code=201,
        summary="The correspondent enters a paper application, for a family without internet",
    )
    async def post_paper_application(
        school_id: str, body: ApplicationIn, request: Request, principal: Principal = require("correspondent")
    ) -> dict:
        _correspondent_of(principal, school_id)
        raw = body.model_dump()
        if raw.get("school_id") in (None, ""):
            raw["school_id"] = school_id
        elif raw["school_id"] != school_id:
            raise ValidationFailed({"school_id": "doit être le collège du correspondant"})
        return await submit(request, raw, family_sub=None, channel="paper", entered_by=principal.sub)

    @router.get("/applications", summary="The applications the caller may see: a family its own, a correspondent its school's")
    async def list_applications(request: Request, principal: Principal = require("family", "correspondent")) -> list[dict]:
        async with pool(request).acquire() as conn:
            if principal.role == "family":
                found = await store.family_applications(conn, principal.sub)
            else:
                found = await store.school_applications(conn, principal.school_id or "", None)
        return [application_view(a, for_school=principal.role == "correspondent") for a in found]

    @router.get("/applications/{application_id}", summary="An application: status and history")
    async def get_application(application_id: str, request: Request, principal: Principal = require("family", "correspondent", "admin")) -> dict:
        async with pool(request).acquire() as conn:
            found = await store.get_application(conn, application_id)
        if found is None:
            raise _unknown_application(application_id)
        if not _may_read(principal, found):
            raise _forbidden()
        return application_view(found, for_school=principal.role != "family")

    @router.get(
        "/schools/{school_id}/applications",
        summary="The school's applications (Accept: text/csv for a `;`-separated file Excel opens)",
        responses={200: {"content": {"text/csv": {}}}},
    )
    async def school_applications(
        school_id: str,
        request: Request,
        status: Annotated[ApplicationStatus | None, Query()] = None,
        principal: Principal = require("correspondent", "admin"),
    ) -> Any:
        _correspondent_of(principal, school_id, admin_too=True)
        async with pool(request).acquire() as conn:
            if await store.get_school(conn, school_id) is None:
                raise _unknown_school(school_id)
            found = await store.school_applications(conn, school_id, status.value if status else None)
        if "text/csv" in request.headers.get("accept", ""):
            name = f"inscriptions-{school_id}-{status.value if status else 'toutes'}.csv"
            return Response(
                pending_csv(_pending_row(a) for a in found),
                media_type="text/csv; charset=utf-8",
                headers={"Content-Disposition": f'attachment; filename="{name}"'},
            )
        return [application_view(a, for_school=True) for a in found]

    async def decide(request: Request, application_id: str, principal: Principal, reject_reason: str | None) -> dict:
        now = _now()
        async with pool(request).acquire() as conn, conn.transaction():
            found = await store.get_application(conn, application_id, for_update=True)
            if found is None:
                raise _unknown_application(application_id)
            _correspondent_of(principal, found.form.school_id)
            if reject_reason is None:
                found = await _validate(conn, outbox, found, now, principal)
            else:
                progress = found.progress.reject(reject_reason, now)
                await store.save_progress(conn, found, progress, decided_by=principal.sub)
                await outbox.add(
                    conn,
                    ApplicationRejected(
                        application_id=found.application_id, campaign_id=found.form.campaign_id,
                        school_id=found.form.school_id, family_sub=found.family_sub,
                        student_first_name=found.form.student.first_name, guardian=_guardian(found.form),
                        reason=progress.rejection_reason or "", rejected_at=now,
                    ),
                )
                found = await store.get_application(conn, application_id)
        assert found is not None
        return application_view(found, for_school=True)

    @router.post("/applications/{application_id}/validate", summary="The school's correspondent validates: the pass is granted")
    async def validate(application_id: str, request: Request, principal: Principal = require("correspondent")) -> dict:
        return await decide(request, application_id, principal, None)

    @router.post("/applications/{application_id}/reject", summary="The school's correspondent rejects, with a reason")
    async def reject(application_id: str, body: RejectIn, request: Request, principal: Principal = require("correspondent")) -> dict:
        return await decide(request, application_id, principal, body.reason if body.reason is not None else "")

    # --- roster -------------------------------------------------------------------------------

    @router.post(
        "/schools/{school_id}/roster",
        summary="Import the school's student list (CSV `;`: nom, prénom, date de naissance, niveau)",
        openapi_extra={"requestBody": {"required": True, "content": {
            "text/csv": {"schema": {"type": "string", "format": "binary"}},
            "multipart/form-data": {"schema": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}}},
        }}},
    )
    async def import_roster(
        school_id: str,
        request: Request,
        validate_matched: bool = False,
        principal: Principal = require("correspondent"),
    ) -> dict:
        _correspondent_of(principal, school_id)
        data = _uploaded_file(request.headers.get("content-type", ""), await _read_limited(request, ROSTER_MAX_BYTES))
        now = _now()
        async with pool(request).acquire() as conn, conn.transaction():
            if await store.get_school(conn, school_id, for_update=True) is None:
                raise _unknown_school(school_id)
            levels = tuple(dict.fromkeys([*COLLEGE_LEVELS, *(lv for c in await store.list_campaigns(conn) for lv in c.eligible_levels)]))
            roster = parse_roster(data, levels)
            matched = roster.matching(await store.submitted_students_of_school(conn, school_id))
            await store.replace_roster(conn, school_id, roster, at=now, by=principal.sub, matched=len(matched))
            validated: list[str] = []
            if validate_matched:
                for application_id in matched:
                    found = await store.get_application(conn, application_id, for_update=True)
                    if found is not None and found.progress.status is ApplicationStatus.SUBMITTED:
                        await _validate(conn, outbox, found, now, principal)
                        validated.append(application_id)
        return {
            "imported": len(roster.entries),
            "rejected": [{"line": r.line, "reason": r.reason} for r in roster.rejected],
            "matched": matched,
            "validated": validated,
            "encoding": roster.encoding,
            "header_line": roster.header_line,
        }

    # --- figures ------------------------------------------------------------------------------

    @router.get("/stats", summary="Figures for the département: by status, by school, validation delay")
    async def stats(request: Request, campaign_id: str | None = None, principal: Principal = admin) -> dict:
        async with pool(request).acquire() as conn:
            if campaign_id is not None and await store.get_campaign(conn, campaign_id) is None:
                raise _unknown_campaign(campaign_id)
            facts = await store.application_facts(conn, campaign_id)
        return {"campaign_id": campaign_id, **figures(facts)}

    return router


async def _validate(
    conn: asyncpg.Connection, outbox: Outbox, found: store.StoredApplication, now: datetime, principal: Principal
) -> store.StoredApplication:
    progress = found.progress.validate(now)
    campaign = await store.get_campaign(conn, found.form.campaign_id)
    assert campaign is not None  # an application references its campaign
    await store.save_progress(conn, found, progress, decided_by=principal.sub)
    await outbox.add(
        conn,
        PassGranted(
            application_id=found.application_id, campaign_id=campaign.campaign_id, campaign_label=campaign.label,
            school_id=found.form.school_id, family_sub=found.family_sub, student=_student(found.form),
            guardian=_guardian(found.form), allowance_cents=campaign.allowance_cents,
            tickets_per_pass=campaign.tickets_per_pass, ticket_min_cents=campaign.ticket_min_cents,
            ticket_max_cents=campaign.ticket_max_cents, pass_valid_until=campaign.calendar.pass_valid_until,
            validated_at=now,
        ),
    )
    refreshed = await store.get_application(conn, found.application_id)
    assert refreshed is not None
    return refreshed


async def _read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    too_large = RosterTooLarge(
        f"Le fichier envoyé est trop volumineux : {limit // (1024 * 1024)} Mo au plus.", {"max_bytes": limit}
    )
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def _uploaded_file(content_type: str, body: bytes) -> bytes:
    """The CSV itself: the body, or the first file of a form upload (multipart/form-data), as a
    school portal's upload form sends it."""
    if not content_type.lower().startswith("multipart/form-data"):
        return body
    message = email.message_from_bytes(b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body, policy=policy.HTTP)
    if not message.is_multipart():
        return b""
    parts = list(message.iter_parts())
    chosen = next((p for p in parts if p.get_filename()), parts[0] if parts else None)
    payload = chosen.get_payload(decode=True) if chosen is not None else None
    return payload if isinstance(payload, bytes) else b""


def _student(form: ApplicationForm) -> StudentPart:
    st = form.student
    return StudentPart(last_name=st.last_name, first_name=st.first_name, birth_date=st.birth_date, level=st.level)


def _guardian(form: ApplicationForm) -> GuardianPart:
    gu = form.guardian
    return GuardianPart(last_name=gu.last_name, first_name=gu.first_name, email=gu.email, phone=gu.phone)


def _duplicate(campaign: Campaign) -> DuplicateApplication:
    return DuplicateApplication(
        "Une inscription au Pass a déjà été enregistrée pour ce collégien pour cette campagne : "
        "une seule inscription par collégien est possible.",
        {"campaign_id": campaign.campaign_id},
    )


def _unknown_campaign(campaign_id: str) -> UnknownCampaign:
    return UnknownCampaign("Cette campagne du Pass n'existe pas.", {"campaign_id": campaign_id})


def _unknown_school(school_id: str) -> UnknownSchool:
    return UnknownSchool("Ce collège n'est pas connu du Pass : vérifiez le collège choisi.", {"school_id": school_id})


def _unknown_application(application_id: str) -> UnknownApplication:
    return UnknownApplication("Cette inscription n'existe pas.", {"application_id": application_id})
