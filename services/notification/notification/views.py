"""The answers of the routes (response models), built from the domain's objects."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Self

from pydantic import BaseModel, Field

from .domain import Audience, Broadcast, BroadcastStatus, Message, MessageState, Template


class AttemptView(BaseModel):
    attempt: int
    at: datetime
    outcome: str = Field(description="sent, retry or failed")
    detail: str | None = Field(description="the SMTP reply or the trouble, addresses redacted")


class MessageView(BaseModel):
    message_id: uuid.UUID
    recipient: str | None = Field(description="null once forgotten")
    template: Template
    subject: str | None
    body: str | None = Field(
        description="the plain-text body as kept: a link, code or token it carried replaced by "
        "« [lien retiré] » or « [code retiré] »; null once forgotten"
    )
    state: MessageState
    attempts: int
    created_at: datetime
    first_attempt_at: datetime | None
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None = Field(description="for a pending message only")
    sent_at: datetime | None
    failed_at: datetime | None
    last_error: str | None
    source_event_id: uuid.UUID | None = Field(description="the event that caused it, or the broadcast")
    campaign_id: str | None
    forgotten: bool = Field(description="recipient, subject and body erased (retention)")
    log: list[AttemptView]

    @classmethod
    def of(cls, message: Message) -> MessageView:
        d = message.delivery
        return cls(
            message_id=message.message_id, recipient=message.recipient, template=message.template,
            subject=message.subject, body=message.text, state=d.state, attempts=d.attempts,
            created_at=message.created_at, first_attempt_at=d.first_attempt_at, last_attempt_at=d.last_attempt_at,
            next_attempt_at=d.next_attempt_at if d.state is MessageState.PENDING else None,
            sent_at=d.sent_at, failed_at=message.failed_at, last_error=d.last_error,
            source_event_id=message.source_event_id, campaign_id=message.campaign_id,
            forgotten=message.forgotten_at is not None,
            log=[AttemptView(attempt=a.attempt, at=a.at, outcome=a.outcome, detail=a.detail) for a in message.log],
        )


class MessageList(BaseModel):
    messages: list[MessageView] = Field(description="newest first")
    count: int


class BroadcastView(BaseModel):
    broadcast_id: uuid.UUID
    audience: Audience
    subject: str
    send_at: datetime
    status: BroadcastStatus
    recipient_count: int | None = Field(description="the distinct recipients it went to, once expanded")
    created_at: datetime
    expanded_at: datetime | None
    messages_by_state: dict[MessageState, int] = Field(description="its messages by delivery state")

    @classmethod
    def of(cls, broadcast: Broadcast, **more: object) -> Self:
        return cls(
            broadcast_id=broadcast.broadcast_id, audience=broadcast.audience, subject=broadcast.subject,
            send_at=broadcast.send_at, status=broadcast.status, recipient_count=broadcast.recipient_count,
            created_at=broadcast.created_at, expanded_at=broadcast.expanded_at,
            messages_by_state=dict(broadcast.messages_by_state), **more,
        )


class ScheduledBroadcastView(BroadcastView):
    recipients_known_now: int = Field(
        description="the distinct addresses known now for the audience; recipients are chosen when it goes out"
    )
