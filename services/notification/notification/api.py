"""HTTP routes (API.md, Notification): the delivery log and broadcasts, for the département's staff."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from carnet_runtime import Invalid, NotFound
from carnet_runtime.auth import Principal, require

from . import store
from .domain import NotificationError, distinct_recipients, normalise_recipient, plan_broadcast

router = APIRouter(prefix="/v1", tags=["notification"])
Admin = Annotated[Principal, require("admin")]


class BroadcastRequest(BaseModel):
    audience: str = Field(description="correspondents, families or affiliates")
    subject: str
    body: str
    send_at: datetime | None = Field(None, description="when absent, now")


def _message_view(row: dict) -> dict:
    return {
        "message_id": str(row["message_id"]),
        "recipient": row["recipient"],
        "template": row["template"],
        "subject": row["subject"],
        "state": row["state"],
        "attempts": row["attempts"],
        "created_at": row["created_at"],
        "first_attempt_at": row["first_attempt_at"],
        "last_attempt_at": row["last_attempt_at"],
        "next_attempt_at": row["next_attempt_at"] if row["state"] == "pending" else None,
        "sent_at": row["sent_at"],
        "failed_at": row["failed_at"],
        "last_error": row["last_error"],
        "source_event_id": None if row["source_event_id"] is None else str(row["source_event_id"]),
        "campaign_id": row["campaign_id"],
        "forgotten": row["forgotten_at"] is not None,
        "log": row["log"],
    }


def _broadcast_view(row: dict) -> dict:
    return {
        "broadcast_id": str(row["broadcast_id"]),
        "audience": row["audience"],
        "subject": row["subject"],
        "send_at": row["send_at"],
        "status": row["state"],
        "recipient_count": row["recipient_count"],
        "created_at": row["created_at"],
        "expanded_at": row["expanded_at"],
        "messages_by_state": row.get("messages_by_state") or {},
    }


@router.get("/messages", summary="What was sent to whom, when, and its delivery state")
async def list_messages(
    request: Request,
    _: Admin,
    recipient: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    before: datetime | None = Query(None, description="only messages created before this instant (paging)"),
) -> dict:
    address = None
    if recipient is not None:
        try:
            address = normalise_recipient(recipient)
        except NotificationError as exc:
            raise Invalid(exc.code, exc.message, details={"fields": [{"field": "recipient", "problem": exc.message}]})
    async with request.app.state.service.pool.acquire() as conn:
        rows = await store.list_messages(conn, address, limit, before)
    return {"messages": [_message_view(r) for r in rows], "count": len(rows)}


@router.post("/broadcasts", status_code=202, summary="Send a message to an audience, now or at send_at")
async def create_broadcast(request: Request, body: BroadcastRequest, principal: Admin) -> JSONResponse:
    try:
        planned = plan_broadcast(body.audience, body.subject, body.body, body.send_at, datetime.now(UTC))
    except NotificationError as exc:
        raise Invalid(exc.code, exc.message, details=exc.details)
    async with request.app.state.service.transaction() as conn:
        row = await store.create_broadcast(
            conn, uuid.uuid4(), planned.audience, planned.subject, planned.body, planned.send_at, principal.sub
        )
        known = distinct_recipients(await store.audience_addresses(conn, planned.audience))
    # recipients are chosen when it goes out; this says how many the service knows of now
    view = _broadcast_view(dict(row)) | {"recipients_known_now": len(known)}
    return JSONResponse(
        jsonable_encoder(view),
        status_code=202,
        headers={"Location": f"/v1/broadcasts/{view['broadcast_id']}"},
    )


@router.get("/broadcasts/{broadcast_id}", summary="A broadcast, and how its messages stand")
async def get_broadcast(request: Request, broadcast_id: uuid.UUID, _: Admin) -> dict:
    async with request.app.state.service.pool.acquire() as conn:
        row = await store.get_broadcast(conn, broadcast_id)
    if row is None:
        raise NotFound("BROADCAST_NOT_FOUND", "Cette diffusion n'existe pas.")
    return _broadcast_view(row)
