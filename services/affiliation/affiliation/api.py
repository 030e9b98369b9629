"""HTTP routes of API.md's Affiliation section: parse, call the domain, answer."""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

import asyncpg
from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from carnet_contracts import events
from carnet_contracts.sealing import seal
from carnet_runtime.auth import Principal, require

from . import store
from .domain import convention as conv
from .domain.account import TokenPurpose, check_password_strength, hash_secret, issue_token, redeem_token
from .domain.errors import Refusal, field_problems
from .domain.organisation import (
    Activity,
    Address,
    AffiliateStatus,
    bic_for,
    login_candidates,
    masked_iban,
    register_organisation,
    reinstate,
    suspend,
)
from .domain.reimbursement import PARIS, BatchStatus, mark_paid, plan_batch, statement_totals
from .domain.sepa import end_to_end_id, pain001, transfers_csv
from .wiring import Affiliation

log = logging.getLogger(__name__)

# The services an affiliate's token is for: its own pages here, and the scanner.
AFFILIATE_TOKEN_AUDIENCE = ("affiliation", "redemption")

# The one place a refusal becomes an HTTP status.
STATUS = {
    "VALIDATION_ERROR": 422,
    "INVALID_SIRET": 422,
    "INVALID_IBAN": 422,
    "WEAK_PASSWORD": 422,
    "ACTIVATION_TOKEN_INVALID": 422,
    "ACTIVATION_TOKEN_EXPIRED": 410,
    "RESET_TOKEN_INVALID": 422,
    "RESET_TOKEN_EXPIRED": 410,
    "INVALID_CREDENTIALS": 401,
    "ACCOUNT_LOCKED": 429,
    "CONVENTION_HASH_MISMATCH": 422,
    "CONVENTION_STEP_OUT_OF_ORDER": 409,
    "OTP_INVALID": 422,
    "OTP_EXPIRED": 410,
    "AFFILIATE_NOT_FOUND": 404,
    "AFFILIATE_NOT_ACTIVE": 409,
    "AFFILIATE_NOT_SUSPENDED": 409,
    "AFFILIATE_ALREADY_ACTIVATED": 409,
    "DUPLICATE_SIRET": 409,
    "UNKNOWN_CAMPAIGN": 422,
    "CAMPAIGN_REQUIRED": 422,
    "NOTHING_TO_REIMBURSE": 409,
    "BATCH_NOT_FOUND": 404,
    "BATCH_ALREADY_PAID": 409,
    "FORBIDDEN": 403,
}


def install_refusals(app: FastAPI) -> None:
    @app.exception_handler(Refusal)
    async def refused(_: Request, exc: Refusal) -> JSONResponse:
        headers = None
        if exc.code == "ACCOUNT_LOCKED":
            headers = {"Retry-After": str(exc.details.get("retry_after_seconds", 60))}
        return JSONResponse(
            {"error": {"code": exc.code, "message": exc.message, "details": exc.details}},
            status_code=STATUS.get(exc.code, 409),
            headers=headers,
        )


def _now() -> datetime:
    return datetime.now(UTC)


def _client_address(request: Request) -> str | None:
    """The person's address as the gateway saw it, else the peer's."""
    forwarded = request.headers.get("x-forwarded-for")
    if forwarded:
        return forwarded.split(",")[0].strip()[:64]
    return request.client.host if request.client else None


def _not_found() -> Refusal:
    return Refusal("AFFILIATE_NOT_FOUND", "Cet organisme affilié n'existe pas.")


def _own(principal: Principal, affiliate_id: str, *, admin_too: bool = False) -> None:
    """An affiliate acts on itself only; another affiliate's id answers 404 so that ids do not leak."""
    if admin_too and principal.role == "admin":
        return
    if principal.role != "affiliate" or principal.affiliate_id != affiliate_id:
        if principal.role == "affiliate":
            raise _not_found()
        raise Refusal("FORBIDDEN", "Vous n'avez pas accès à cette fonction.")


# --- bodies ---------------------------------------------------------------------------------


class AddressIn(BaseModel):
    line: str = Field(min_length=1, max_length=200)
    postcode: str = Field(pattern=r"^\d{5}$")
    city: str = Field(min_length=1, max_length=100)


class AffiliateIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    siret: str = Field(max_length=40)
    activity: Activity
    address: AddressIn
    contact_email: str = Field(max_length=254)
    iban: str = Field(max_length=64)


class ActivationIn(BaseModel):
    token: str = Field(max_length=200)
    password: str = Field(max_length=1024)


class LoginIn(BaseModel):
    login: str = Field(max_length=200)
    password: str = Field(max_length=1024)


class ResetRequestIn(BaseModel):
    login: str = Field(max_length=254, description="the login or the contact e-mail")


class ResetConfirmIn(BaseModel):
    token: str = Field(max_length=200)
    password: str = Field(max_length=1024)


class ReadIn(BaseModel):
    sha256: str = Field(max_length=128)


class SignIn(BaseModel):
    otp: str = Field(max_length=32)


class SuspendIn(BaseModel):
    reason: str | None = Field(None, max_length=500)


class BatchIn(BaseModel):
    campaign_id: str | None = Field(
        None, min_length=1, max_length=100, description="may be left out while only one campaign has redemptions waiting"
    )
    execution_date: date | None = Field(None, description="the transfers' requested execution day; default in two days")


# --- views ----------------------------------------------------------------------------------


def _affiliate_view(row: Any, *, full: bool) -> dict[str, Any]:
    view = {
        "affiliate_id": row["affiliate_id"],
        "name": row["name"],
        "activity": row["activity"],
        "address": {"line": row["address_line"], "postcode": row["postcode"], "city": row["city"]},
        "status": row["status"],
    }
    if full:
        view |= {
            "login": row["login"],
            "siret": row["siret"],
            "contact_email": row["contact_email"],
            "iban": masked_iban(row["iban"]),
            "convention_step": row["convention_step"],
            "created_at": row["created_at"],
            "signed_at": row["signed_at"],
        }
    return view


def _batch_view(row: Any, transfers: list[Any]) -> dict[str, Any]:
    batch_id = row["batch_id"]
    return {
        "batch_id": batch_id,
        "campaign_id": row["campaign_id"],
        "status": row["status"],
        "total_cents": row["total_cents"],
        "count": row["count"],
        "execution_date": row["execution_date"],
        "created_at": row["created_at"],
        "paid_at": row["paid_at"],
        "transfers": [
            {
                "affiliate_id": t["affiliate_id"],
                "name": t["name"],
                "iban": masked_iban(t["iban"]),
                "amount_cents": t["amount_cents"],
                "count": t["count"],
                "end_to_end_id": t["end_to_end_id"],
            }
            for t in transfers
        ],
        "sepa_url": f"/v1/reimbursement-batches/{batch_id}/sepa.xml",
        "csv_url": f"/v1/reimbursement-batches/{batch_id}/transfers.csv",
    }


def _activated_event(row: Any, at: datetime) -> events.AffiliateActivated:
    return events.AffiliateActivated(
        affiliate_id=row["affiliate_id"],
        name=row["name"],
        activity=row["activity"],
        city=row["city"],
        postcode=row["postcode"],
        activated_at=at,
    )


async def remind_logins(app: Affiliation, conn: Any, campaign: Any, now: datetime) -> int:
    """Every active organisation not yet reminded for this campaign gets its login (never a password)."""
    reminded = 0
    for row in await store.active_affiliates(conn):
        if await store.record_reminder(conn, campaign["campaign_id"], row["affiliate_id"], now):
            await app.service.outbox.add(
                conn,
                events.AffiliateLoginReminded(
                    affiliate_id=row["affiliate_id"],
                    campaign_id=campaign["campaign_id"],
                    campaign_label=campaign["label"],
                    name=row["name"],
                    login=row["login"],
                    contact_email=row["contact_email"],
                ),
                campaign_id=campaign["campaign_id"],
            )
            reminded += 1
    await store.mark_campaign_reminded(conn, campaign["campaign_id"], now)
    return reminded


def build_router(app: Affiliation) -> APIRouter:  # noqa: C901 - one route per contract line
    router = APIRouter(prefix="/v1")
    settings = app.settings

    # --- organisations and accounts ---------------------------------------------------------

    async def invite(conn: Any, row: Any, now: datetime) -> None:
        issued = issue_token(now, settings.activation_ttl())
        await store.replace_token(
            conn, row["affiliate_id"], TokenPurpose.ACTIVATION, issued.token_hash, issued.expires_at, now
        )
        await app.service.outbox.add(
            conn,
            events.AffiliateInvited(
                affiliate_id=row["affiliate_id"],
                name=row["name"],
                login=row["login"],
                contact_email=row["contact_email"],
                sealed_activation_token=seal(issued.clear, settings.seal_key),
                activation_expires_at=issued.expires_at,
            ),
        )

    @router.post("/affiliates", status_code=201, tags=["affiliates"])
    async def create_affiliate(body: AffiliateIn, principal: Principal = require("admin")) -> dict[str, Any]:
        organisation = register_organisation(
            name=body.name,
            siret=body.siret,
            activity=body.activity.value,
            address=Address(body.address.line, body.address.postcode, body.address.city),
            contact_email=body.contact_email,
            iban=body.iban,
        )
        now = _now()
        affiliate_id = str(uuid.uuid4())
        duplicate = Refusal(
            "DUPLICATE_SIRET",
            "Un organisme affilié porte déjà ce numéro SIRET.",
            field_problems({"siret": "already affiliated"}),
        )
        async with app.service.transaction() as conn:
            if await store.siret_taken(conn, organisation.siret):
                raise duplicate
            login = await store.free_login(conn, login_candidates(organisation.name, organisation.siret))
            try:
                await store.insert_affiliate(conn, affiliate_id, organisation, bic_for(organisation.iban), login, now)
            except asyncpg.UniqueViolationError as exc:
                # the same organisation created twice at the same moment: the second one loses here
                if exc.constraint_name == "affiliates_siret_key":
                    raise duplicate from None
                raise
            await invite(conn, await store.affiliate(conn, affiliate_id), now)
        log.info("affiliate invited", extra={"affiliate_id": affiliate_id})
        return {"affiliate_id": affiliate_id, "login": login, "status": AffiliateStatus.INVITED.value}

    @router.post("/affiliates/{affiliate_id}/invitation", status_code=202, tags=["affiliates"])
    async def reinvite(affiliate_id: str, principal: Principal = require("admin")) -> dict[str, Any]:
        """A new activation link when the first one expired or was lost; the earlier link stops working."""
        now = _now()
        async with app.service.transaction() as conn:
            row = await store.affiliate(conn, affiliate_id, for_update=True)
            if row is None:
                raise _not_found()
            if row["status"] != AffiliateStatus.INVITED.value:
                raise Refusal(
                    "AFFILIATE_ALREADY_ACTIVATED",
                    "Le compte de cet organisme est déjà activé : utilisez la réinitialisation du mot de passe.",
                    {"status": row["status"]},
                )
            await invite(conn, row, now)
        return {"affiliate_id": affiliate_id, "status": row["status"]}

    @router.get("/affiliates", tags=["directory"])
    async def directory(
        principal: Principal = require(),
        city: str | None = Query(None, max_length=100),
        activity: Activity | None = None,
        q: str | None = Query(None, max_length=100),
        status: Literal["invited", "convention_pending", "active", "suspended"] = "active",
        limit: int = Query(100, ge=1, le=500),
        offset: int = Query(0, ge=0),
    ) -> dict[str, Any]:
        if status != "active" and principal.role != "admin":
            raise Refusal("FORBIDDEN", "Seuls les organismes affiliés actifs sont consultables.")
        text = q.translate(str.maketrans("%_\\", "   ")).strip() if q else None  # typed %, _ or \ must not act as LIKE syntax
        async with app.service.pool.acquire() as conn:
            rows = await store.directory(
                conn,
                city=city.strip() if city else None,
                activity=activity.value if activity else None,
                text=text or None,
                status=status,
                limit=limit,
                offset=offset,
            )
        return {"items": [_affiliate_view(r, full=False) for r in rows], "limit": limit, "offset": offset}

    @router.get("/affiliates/{affiliate_id}", tags=["affiliates"])
    async def get_affiliate(affiliate_id: str, principal: Principal = require("affiliate", "admin")) -> dict[str, Any]:
        _own(principal, affiliate_id, admin_too=True)
        async with app.service.pool.acquire() as conn:
            row = await store.affiliate(conn, affiliate_id)
        if row is None:
            raise _not_found()
        return _affiliate_view(row, full=True)

    async def activation(affiliate_id: str | None, body: ActivationIn) -> dict[str, Any]:
        now = _now()
        async with app.service.transaction() as conn:
            found = await store.token(conn, hash_secret(body.token), affiliate_id)
            used = redeem_token(found[0] if found else None, body.token, now, TokenPurpose.ACTIVATION)
            affiliate_id = found[1]
            row = await store.affiliate(conn, affiliate_id, for_update=True)
            check_password_strength(body.password, row["login"])
            password_hash = await asyncio.to_thread(app.hashing.hash, body.password)
            await store.mark_token_used(conn, used.token_hash, now)
            await store.set_password(conn, affiliate_id, password_hash, now, activate_account=True)
            row = await store.affiliate(conn, affiliate_id)
        log.info("affiliate account activated", extra={"affiliate_id": affiliate_id})
        return {"affiliate_id": affiliate_id, "login": row["login"], "status": row["status"]}

    @router.post("/affiliates/{affiliate_id}/activation", tags=["accounts"])
    async def activate(affiliate_id: str, body: ActivationIn) -> dict[str, Any]:
        return await activation(affiliate_id, body)

    @router.post("/affiliates/activation", tags=["accounts"])
    async def activate_from_link(body: ActivationIn) -> dict[str, Any]:
        """The same, for a portal that only has the link's token: the token names its account."""
        return await activation(None, body)

    @router.post("/auth/token", tags=["accounts"])
    async def login(body: LoginIn) -> dict[str, Any]:
        now = _now()
        policy = settings.login_policy()
        refusal: Refusal | None = None
        delay = 0.0
        async with app.service.transaction() as conn:
            row = await store.affiliate_by_login(conn, body.login, for_update=True)
            if row is None:
                await asyncio.to_thread(app.hashing.verify, None, body.password)
                refusal = _wrong_credentials()
            else:
                throttle = store.throttle_of(row)
                throttle.check_not_locked(now)
                if await asyncio.to_thread(app.hashing.verify, row["password_hash"], body.password):
                    await store.save_throttle(conn, row["affiliate_id"], throttle.after_success())
                    if app.hashing.needs_rehash(row["password_hash"]):
                        new_hash = await asyncio.to_thread(app.hashing.hash, body.password)
                        await store.rehash_password(conn, row["affiliate_id"], new_hash)
                else:
                    throttle = throttle.after_failure(now, policy)
                    await store.save_throttle(conn, row["affiliate_id"], throttle)
                    delay = throttle.failure_delay_seconds(policy)
                    refusal = _wrong_credentials()
        if refusal is not None:
            # the failure is committed before answering, so a locked account stays locked
            await asyncio.sleep(delay)
            raise refusal
        token = app.signer.sign(
            sub=row["login"],
            role="affiliate",
            audience=AFFILIATE_TOKEN_AUDIENCE,
            ttl_seconds=settings.access_token_ttl_seconds,
            affiliate_id=row["affiliate_id"],
        )
        log.info("affiliate logged in", extra={"affiliate_id": row["affiliate_id"]})
        return {"access_token": token, "token_type": "bearer", "expires_in": settings.access_token_ttl_seconds}

    @router.post("/auth/password-reset", status_code=202, tags=["accounts"])
    async def request_reset(body: ResetRequestIn) -> dict[str, Any]:
        """Always the same answer, so that the form does not tell which logins exist."""
        now = _now()
        async with app.service.transaction() as conn:
            row = await store.affiliate_by_login_or_email(conn, body.login)
            if row is not None and row["password_hash"] is not None:
                issued = issue_token(now, settings.password_reset_ttl())
                await store.replace_token(
                    conn, row["affiliate_id"], TokenPurpose.PASSWORD_RESET, issued.token_hash, issued.expires_at, now
                )
                await app.service.outbox.add(
                    conn,
                    events.PasswordResetRequested(
                        affiliate_id=row["affiliate_id"],
                        login=row["login"],
                        contact_email=row["contact_email"],
                        sealed_reset_token=seal(issued.clear, settings.seal_key),
                        expires_at=issued.expires_at,
                    ),
                )
        return {
            "status": "accepted",
            "message": "Si ce compte existe, un courriel avec un lien de réinitialisation vient d'être envoyé.",
        }

    @router.post("/auth/password-reset/confirm", tags=["accounts"])
    async def confirm_reset(body: ResetConfirmIn) -> dict[str, Any]:
        now = _now()
        async with app.service.transaction() as conn:
            found = await store.token(conn, hash_secret(body.token))
            used = redeem_token(found[0] if found else None, body.token, now, TokenPurpose.PASSWORD_RESET)
            affiliate_id = found[1]
            row = await store.affiliate(conn, affiliate_id, for_update=True)
            check_password_strength(body.password, row["login"])
            password_hash = await asyncio.to_thread(app.hashing.hash, body.password)
            await store.mark_token_used(conn, used.token_hash, now)
            await store.set_password(conn, affiliate_id, password_hash, now, activate_account=False)
        log.info("affiliate password reset", extra={"affiliate_id": affiliate_id})
        return {"affiliate_id": affiliate_id, "login": row["login"]}

    # --- the convention ------------------------------------------------------------------------

    document = app.convention

    def step_context(request: Request, principal: Principal, affiliate_id: str) -> conv.StepContext:
        return conv.StepContext(affiliate_id, principal.sub, _client_address(request), _now())

    async def locked_affiliate(conn: Any, affiliate_id: str) -> Any:
        row = await store.affiliate(conn, affiliate_id, for_update=True)
        if row is None:
            raise _not_found()
        return row

    @router.get("/affiliates/{affiliate_id}/convention", tags=["convention"])
    async def get_convention(affiliate_id: str, principal: Principal = require("affiliate", "admin")) -> dict[str, Any]:
        _own(principal, affiliate_id, admin_too=True)
        async with app.service.pool.acquire() as conn:
            row = await store.affiliate(conn, affiliate_id)
        if row is None:
            raise _not_found()
        progress = store.progress_of(row)
        return {
            "version": document.version,
            "sha256": document.sha256,
            "text": document.text,
            "step": progress.step.value,
            "next_step": progress.next_action,
            "otp_expires_at": progress.otp_expires_at,
            "signed_at": row["signed_at"],
        }

    @router.post("/affiliates/{affiliate_id}/convention/read", tags=["convention"])
    async def read(
        affiliate_id: str, body: ReadIn, request: Request, principal: Principal = require("affiliate")
    ) -> dict[str, Any]:
        _own(principal, affiliate_id)
        ctx = step_context(request, principal, affiliate_id)
        async with app.service.transaction() as conn:
            row = await locked_affiliate(conn, affiliate_id)
            progress, record = conv.read(store.progress_of(row), document, body.sha256, ctx)
            await store.save_progress(conn, affiliate_id, progress, ctx.at)
            await store.append_audit(conn, record)
        return _step_answer(progress, record)

    @router.post("/affiliates/{affiliate_id}/convention/accept", tags=["convention"])
    async def accept(affiliate_id: str, request: Request, principal: Principal = require("affiliate")) -> dict[str, Any]:
        _own(principal, affiliate_id)
        ctx = step_context(request, principal, affiliate_id)
        async with app.service.transaction() as conn:
            row = await locked_affiliate(conn, affiliate_id)
            progress, record = conv.accept(store.progress_of(row), document, ctx)
            await store.save_progress(conn, affiliate_id, progress, ctx.at)
            await store.append_audit(conn, record)
        return _step_answer(progress, record)

    @router.post("/affiliates/{affiliate_id}/convention/otp", status_code=202, tags=["convention"])
    async def send_otp(affiliate_id: str, request: Request, principal: Principal = require("affiliate")) -> dict[str, Any]:
        _own(principal, affiliate_id)
        ctx = step_context(request, principal, affiliate_id)
        async with app.service.transaction() as conn:
            row = await locked_affiliate(conn, affiliate_id)
            progress, record, otp = conv.issue_otp(store.progress_of(row), document, ctx, settings.otp_policy())
            await store.save_progress(conn, affiliate_id, progress, ctx.at)
            await store.append_audit(conn, record)
            await app.service.outbox.add(
                conn,
                events.ConventionOtpIssued(
                    affiliate_id=affiliate_id,
                    name=row["name"],
                    contact_email=row["contact_email"],
                    sealed_otp=seal(otp, settings.seal_key),
                    expires_at=progress.otp_expires_at,
                ),
            )
        return _step_answer(progress, record) | {"otp_expires_at": progress.otp_expires_at}

    @router.post("/affiliates/{affiliate_id}/convention/sign", tags=["convention"])
    async def sign(
        affiliate_id: str, body: SignIn, request: Request, principal: Principal = require("affiliate")
    ) -> dict[str, Any]:
        _own(principal, affiliate_id)
        ctx = step_context(request, principal, affiliate_id)
        async with app.service.transaction() as conn:
            row = await locked_affiliate(conn, affiliate_id)
            progress, record, refusal = conv.sign(store.progress_of(row), document, body.otp, ctx, settings.otp_policy())
            # a wrong code is counted even though it is refused: the count is what stops guessing
            await store.save_progress(conn, affiliate_id, progress, ctx.at)
            if record is not None:
                await store.append_audit(conn, record)
                if row["status"] == AffiliateStatus.CONVENTION_PENDING.value:
                    await store.set_status(conn, affiliate_id, AffiliateStatus.ACTIVE, ctx.at)
                await app.service.outbox.add(
                    conn,
                    events.ConventionSigned(
                        affiliate_id=affiliate_id,
                        name=row["name"],
                        contact_email=row["contact_email"],
                        convention_version=record.document_version,
                        document_sha256=record.document_sha256,
                        signed_at=ctx.at,
                    ),
                )
                await app.service.outbox.add(conn, _activated_event(row, ctx.at))
        if refusal is not None:
            raise refusal
        log.info("convention signed", extra={"affiliate_id": affiliate_id})
        return _step_answer(progress, record) | {"status": AffiliateStatus.ACTIVE.value}

    @router.get("/affiliates/{affiliate_id}/audit-trail", tags=["convention"])
    async def audit_trail(affiliate_id: str, principal: Principal = require("admin")) -> dict[str, Any]:
        async with app.service.pool.acquire() as conn:
            if await store.affiliate(conn, affiliate_id) is None:
                raise _not_found()
            rows = await store.audit_trail(conn, affiliate_id)
        return {
            "affiliate_id": affiliate_id,
            "items": [
                {
                    "action": r["action"],
                    "at": r["at"],
                    "account": r["account"],
                    "client_address": r["client_address"],
                    "document_version": r["document_version"],
                    "document_sha256": r["document_sha256"],
                }
                for r in rows
            ],
        }

    # --- suspension --------------------------------------------------------------------------------

    @router.post("/affiliates/{affiliate_id}/suspend", tags=["affiliates"])
    async def suspend_affiliate(
        affiliate_id: str, request: Request, body: SuspendIn | None = None, principal: Principal = require("admin")
    ) -> dict[str, Any]:
        now = _now()
        async with app.service.transaction() as conn:
            row = await locked_affiliate(conn, affiliate_id)
            status = suspend(AffiliateStatus(row["status"]))
            await store.set_status(conn, affiliate_id, status, now)
            await store.append_audit(
                conn, conv.AuditRecord(affiliate_id, "suspend", principal.sub, _client_address(request), now, None, None)
            )
            await app.service.outbox.add(
                conn,
                events.AffiliateSuspended(affiliate_id=affiliate_id, reason=body.reason if body else None, suspended_at=now),
            )
        return {"affiliate_id": affiliate_id, "status": status.value}

    @router.post("/affiliates/{affiliate_id}/reinstate", tags=["affiliates"])
    async def reinstate_affiliate(
        affiliate_id: str, request: Request, principal: Principal = require("admin")
    ) -> dict[str, Any]:
        now = _now()
        async with app.service.transaction() as conn:
            row = await locked_affiliate(conn, affiliate_id)
            status = reinstate(AffiliateStatus(row["status"]))
            await store.set_status(conn, affiliate_id, status, now)
            await store.append_audit(
                conn, conv.AuditRecord(affiliate_id, "reinstate", principal.sub, _client_address(request), now, None, None)
            )
            await app.service.outbox.add(conn, _activated_event(row, now))
        return {"affiliate_id": affiliate_id, "status": status.value}

    # --- tickets and statements ------------------------------------------------------------------

    @router.get("/affiliates/{affiliate_id}/assigned-tickets", tags=["statement"])
    async def assigned(affiliate_id: str, principal: Principal = require("affiliate", "admin")) -> dict[str, Any]:
        _own(principal, affiliate_id, admin_too=True)
        async with app.service.pool.acquire() as conn:
            rows = await store.assigned_tickets(conn, affiliate_id)
        return {
            "affiliate_id": affiliate_id,
            "items": [
                {
                    "ticket_id": r["ticket_id"],
                    "campaign_id": r["campaign_id"],
                    "code_suffix": r["code_suffix"],
                    "amount_cents": r["amount_cents"],
                    "valid_until": r["valid_until"],
                    "assigned_at": r["assigned_at"],
                    "status": "redeemed" if r["redeemed_at"] else "credited",
                    "redeemed_at": r["redeemed_at"],
                }
                for r in rows
            ],
        }

    @router.get("/affiliates/{affiliate_id}/statement", tags=["statement"])
    async def statement(
        affiliate_id: str,
        principal: Principal = require("affiliate", "admin"),
        campaign_id: str | None = Query(None, max_length=100),
    ) -> dict[str, Any]:
        _own(principal, affiliate_id, admin_too=True)
        async with app.service.pool.acquire() as conn:
            if await store.affiliate(conn, affiliate_id) is None:
                raise _not_found()
            lines = await store.statement(conn, affiliate_id, campaign_id)
        totals = statement_totals([line for line, _ in lines])
        return {
            "affiliate_id": affiliate_id,
            "campaign_id": campaign_id,
            "count": totals.count,
            "redeemed_cents": totals.redeemed_cents,
            "reimbursed_cents": totals.reimbursed_cents,
            "in_payment_cents": totals.in_payment_cents,
            "pending_cents": totals.pending_cents,
            "redemptions": [
                {
                    "redemption_id": line.redemption_id,
                    "ticket_id": line.ticket_id,
                    "campaign_id": line.campaign_id,
                    "amount_cents": line.amount_cents,
                    "redeemed_at": line.redeemed_at,
                    "status": line.status.value,
                    "batch_id": batch_id,
                }
                for line, batch_id in lines
            ],
        }

    # --- reimbursement batches ---------------------------------------------------------------------

    @router.post("/reimbursement-batches", status_code=201, tags=["reimbursement"])
    async def create_batch(body: BatchIn | None = None, principal: Principal = require("admin")) -> dict[str, Any]:
        body = body or BatchIn()
        now = _now()
        today = now.astimezone(PARIS).date()
        if body.execution_date is not None and body.execution_date < today:
            raise Refusal(
                "VALIDATION_ERROR",
                "La date d'exécution des virements ne peut pas être dans le passé.",
                field_problems({"execution_date": "in the past"}),
            )
        execution_date = body.execution_date or today + timedelta(days=settings.transfer_delay_days)
        batch_id = str(uuid.uuid4())
        async with app.service.transaction() as conn:
            campaign_id = body.campaign_id or await only_campaign_waiting(conn)
            campaign = await store.campaign(conn, campaign_id, for_update=True)  # one batch at a time per campaign
            if campaign is None:
                raise Refusal(
                    "UNKNOWN_CAMPAIGN",
                    "Cette campagne n'est pas connue du service d'affiliation.",
                    {"campaign_id": campaign_id},
                )
            terms = store.terms_of(campaign)
            lines = await store.pending_lines(conn, campaign_id)
            payees = await store.payees(conn, sorted({line.affiliate_id for line in lines}))
            plan = plan_batch(lines, terms, payees, now)
            xml = await asyncio.to_thread(
                pain001,
                batch_id=batch_id,
                plan=plan,
                debtor=settings.debtor(),
                campaign_label=terms.label,
                execution_date=execution_date,
                created_at=now,
            )
            await store.insert_batch(
                conn,
                batch_id=batch_id,
                campaign_id=campaign_id,
                total_cents=plan.total_cents,
                count=plan.count,
                execution_date=execution_date,
                sepa_xml=xml,
                transfers_csv=transfers_csv(batch_id, plan),
                created_by=principal.sub,
                created_at=now,
            )
            for transfer in plan.transfers:
                await store.insert_transfer(
                    conn,
                    batch_id,
                    transfer.payee.affiliate_id,
                    transfer.payee.name,
                    transfer.payee.iban,
                    transfer.amount_cents,
                    len(transfer.redemption_ids),
                    end_to_end_id(batch_id, transfer.payee.siret),
                )
            await store.batch_lines(conn, batch_id, plan.redemption_ids)
            await app.service.outbox.add(
                conn,
                events.ReimbursementBatchCreated(
                    batch_id=batch_id,
                    campaign_id=campaign_id,
                    redemption_ids=plan.redemption_ids,
                    total_cents=plan.total_cents,
                    count=plan.count,
                    created_at=now,
                ),
            )
            row = await store.batch(conn, batch_id)
            transfers = await store.batch_transfers(conn, batch_id)
        log.info("reimbursement batch created", extra={"batch_id": batch_id, "count": plan.count})
        return _batch_view(row, transfers)

    async def only_campaign_waiting(conn: Any) -> str:
        waiting = await store.campaigns_with_pending_lines(conn)
        if not waiting:
            raise Refusal(
                "NOTHING_TO_REIMBURSE", "Aucun ticket encaissé n'est en attente de remboursement.", {"campaign_id": None}
            )
        if len(waiting) > 1:
            raise Refusal(
                "CAMPAIGN_REQUIRED",
                "Des tickets de plusieurs campagnes attendent leur remboursement : précisez la campagne.",
                field_problems({"campaign_id": "required"}) | {"campaign_ids": waiting},
            )
        return waiting[0]

    async def batch_row(conn: Any, batch_id: str, *, for_update: bool = False) -> Any:
        row = await store.batch(conn, batch_id, for_update=for_update)
        if row is None:
            raise Refusal("BATCH_NOT_FOUND", "Ce lot de remboursement n'existe pas.")
        return row

    @router.get("/reimbursement-batches/{batch_id}", tags=["reimbursement"])
    async def get_batch(batch_id: str, principal: Principal = require("admin")) -> dict[str, Any]:
        async with app.service.pool.acquire() as conn:
            row = await batch_row(conn, batch_id)
            transfers = await store.batch_transfers(conn, batch_id)
        return _batch_view(row, transfers)

    @router.get("/reimbursement-batches/{batch_id}/sepa.xml", tags=["reimbursement"])
    async def sepa_file(batch_id: str, principal: Principal = require("admin")) -> Response:
        async with app.service.pool.acquire() as conn:
            row = await batch_row(conn, batch_id)
        return Response(
            bytes(row["sepa_xml"]),
            media_type="application/xml",
            headers={"Content-Disposition": f'attachment; filename="remboursements-{batch_id}.xml"'},
        )

    @router.get("/reimbursement-batches/{batch_id}/transfers.csv", tags=["reimbursement"])
    async def csv_file(batch_id: str, principal: Principal = require("admin")) -> Response:
        async with app.service.pool.acquire() as conn:
            row = await batch_row(conn, batch_id)
        return Response(
            row["transfers_csv"],
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="remboursements-{batch_id}.csv"'},
        )

    @router.post("/reimbursement-batches/{batch_id}/paid", tags=["reimbursement"])
    async def paid(batch_id: str, principal: Principal = require("admin")) -> dict[str, Any]:
        now = _now()
        async with app.service.transaction() as conn:
            row = await batch_row(conn, batch_id, for_update=True)
            mark_paid(BatchStatus(row["status"]))
            await store.mark_batch_paid(conn, batch_id, now)
            transfers = await store.batch_transfers(conn, batch_id)
            await app.service.outbox.add(
                conn,
                events.ReimbursementBatchPaid(
                    batch_id=batch_id,
                    campaign_id=row["campaign_id"],
                    redemption_ids=await store.batch_redemption_ids(conn, batch_id),
                    transfers=[
                        events.ReimbursementTransfer(
                            affiliate_id=t["affiliate_id"],
                            name=t["name"],
                            contact_email=t["contact_email"],
                            amount_cents=t["amount_cents"],
                            count=t["count"],
                        )
                        for t in transfers
                    ],
                    total_cents=row["total_cents"],
                    paid_at=now,
                ),
            )
            row = await store.batch(conn, batch_id)
        return _batch_view(row, transfers)

    # --- start of a campaign ------------------------------------------------------------------------

    @router.post("/campaigns/{campaign_id}/login-reminders", status_code=202, tags=["accounts"])
    async def login_reminders(campaign_id: str, principal: Principal = require("admin")) -> dict[str, Any]:
        """Remind now, instead of waiting for the campaign's opening day; nobody is reminded twice."""
        now = _now()
        async with app.service.transaction() as conn:
            campaign = await store.campaign(conn, campaign_id, for_update=True)
            if campaign is None:
                raise Refusal(
                    "UNKNOWN_CAMPAIGN", "Cette campagne n'est pas connue du service d'affiliation.", {"campaign_id": campaign_id}
                )
            reminded = await remind_logins(app, conn, campaign, now)
        return {"campaign_id": campaign_id, "reminded": reminded}

    return router


def _wrong_credentials() -> Refusal:
    return Refusal("INVALID_CREDENTIALS", "Identifiant ou mot de passe incorrect.")


def _step_answer(progress: conv.ConventionProgress, record: conv.AuditRecord | None) -> dict[str, Any]:
    return {
        "step": progress.step.value,
        "next_step": progress.next_action,
        "document_version": progress.version,
        "document_sha256": progress.sha256,
        "recorded_at": record.at if record else None,
    }
