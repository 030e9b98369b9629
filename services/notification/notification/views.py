"""The answers of the routes (response models), built from the domain's objects."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal, Self

from pydantic import BaseModel, Field

from .domain import (
    Audience,
    Broadcast,
    BroadcastStatus,
    ExportedMessage,
    KeptCopy,
    Message,
    MessageFigures,
    MessageState,
    PersonalExport,
    Reader,
    Template,
)


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


class FiguresView(BaseModel):
    campaign_id: str | None = Field(description="the campaign, or null for every message")
    messages: int
    by_state: dict[MessageState, int]
    by_template: dict[Template, dict[MessageState, int]] = Field(description="messages by template, then state")
    attempts: int = Field(description="delivery attempts of these messages")

    @classmethod
    def of(cls, figures: MessageFigures) -> FiguresView:
        return cls(campaign_id=figures.campaign_id, messages=figures.messages, by_state=figures.by_state,
                   by_template={t: dict(states) for t, states in figures.by_template.items()},
                   attempts=figures.attempts)


class AboutView(BaseModel):
    """Whom a message is about, as far as it is the person exported."""

    application_ids: list[str]
    wallet_ids: list[str]
    family_subs: list[str]


class ExportedMessageView(BaseModel):
    message_id: str
    template: Template
    written_to: Reader = Field(description="guardian, correspondent (the school's), affiliate (the organisation) "
                                           "or audience (a broadcast)")
    to_them: bool = Field(description="sent to the person exported; otherwise sent to someone else about them, "
                                      "shown without its recipient and body")
    recipient: str | None
    subject: str | None = Field(description="without its personal parts when not sent to them")
    body: str | None = Field(description="the plain text as the log keeps it (a link or code replaced by « [lien "
                                         "retiré] » / « [code retiré] »); null when not sent to them or erased")
    state: MessageState
    attempts: int
    created_at: datetime
    sent_at: datetime | None
    failed_at: datetime | None
    campaign_id: str | None
    about: AboutView

    @classmethod
    def of(cls, exported: ExportedMessage) -> ExportedMessageView:
        m = exported.message
        return cls(
            message_id=m.message_id, template=m.template, written_to=exported.written_to,
            to_them=exported.to_them, recipient=exported.recipient, subject=exported.subject, body=exported.body,
            state=MessageState(m.state), attempts=m.attempts, created_at=m.created_at, sent_at=m.sent_at,
            failed_at=m.failed_at, campaign_id=m.campaign_id,
            about=AboutView(application_ids=list(exported.about.application_ids),
                            wallet_ids=list(exported.about.wallet_ids), family_subs=list(exported.about.family_subs)),
        )


class KeptCopyView(BaseModel):
    kind: Literal["application", "wallet", "wallet_ready"] = Field(
        description="the guardian's address per application, per wallet (with the pupil's first name), and "
                    "the wallet-ready message waiting for its second half")
    id: str = Field(description="the application or wallet id")
    campaign_id: str | None
    email: str | None
    names: dict[str, str]

    @classmethod
    def of(cls, copy: KeptCopy) -> KeptCopyView:
        return cls(kind=copy.kind, id=copy.id, campaign_id=copy.campaign_id, email=copy.email,  # type: ignore[arg-type]
                   names=dict(copy.names))


class PrivacyExportView(BaseModel):
    service: Literal["notification"] = "notification"
    family_sub: str | None = Field(description="the family account exported (a family's own export)")
    email: str | None = Field(description="the guardian's address exported (the admin's export)")
    generated_at: datetime
    messages: list[ExportedMessageView] = Field(description="oldest first")
    addresses: list[KeptCopyView] = Field(description="the copies of the guardian's address this service keeps")

    @classmethod
    def of(cls, export: PersonalExport) -> PrivacyExportView:
        return cls(family_sub=export.family_sub, email=export.email, generated_at=export.generated_at,
                   messages=[ExportedMessageView.of(m) for m in export.messages],
                   addresses=[KeptCopyView.of(c) for c in export.copies])
