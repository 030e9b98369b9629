"""HTTP routes (API.md, Notification): the delivery log and broadcasts, for the département's staff."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from carnet_runtime import MultilineText, PlainText
from carnet_runtime.auth import Principal, require

from .application import broadcasts
from .domain import Audience
from .views import BroadcastView, MessageList, MessageView, ScheduledBroadcastView

if TYPE_CHECKING:
    from .app import NotificationApp

Admin = Annotated[Principal, require("admin")]


class BroadcastRequest(BaseModel):
    audience: Audience = Field(description="correspondents, families or affiliates")
    subject: PlainText = Field(description="one line")
    body: MultilineText
    send_at: datetime | None = Field(None, description="with its time zone; when absent or past, now")


def router(app: NotificationApp) -> APIRouter:
    routes = APIRouter(prefix="/v1", tags=["notification"])

    @routes.get("/messages", summary="What was sent to whom, when, and its delivery state")
    async def list_messages(
        _: Admin,
        recipient: str | None = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
        before: Annotated[datetime | None, Query(description="only messages created before this instant")] = None,
    ) -> MessageList:
        query = broadcasts.ListMessages(recipient=recipient, limit=limit, before=before)
        messages = await broadcasts.list_messages(app.uow(), query)
        return MessageList(messages=[MessageView.of(m) for m in messages], count=len(messages))

    @routes.post("/broadcasts", status_code=202, summary="Send a message to an audience, now or at send_at")
    async def create_broadcast(body: BroadcastRequest, principal: Admin, response: Response) -> ScheduledBroadcastView:
        command = broadcasts.ScheduleBroadcast(
            audience=body.audience, subject=body.subject, body=body.body, send_at=body.send_at,
            requested_by=principal.sub,
        )
        scheduled = await broadcasts.schedule_broadcast(app.uow(), command, datetime.now(UTC))
        response.headers["Location"] = f"/v1/broadcasts/{scheduled.broadcast.broadcast_id}"
        return ScheduledBroadcastView.of(scheduled.broadcast, recipients_known_now=scheduled.recipients_known_now)

    @routes.get("/broadcasts/{broadcast_id}", summary="A broadcast, and how its messages stand")
    async def get_broadcast(broadcast_id: uuid.UUID, _: Admin) -> BroadcastView:
        return BroadcastView.of(await broadcasts.get_broadcast(app.uow(), broadcast_id))

    return routes
