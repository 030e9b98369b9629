"""The département's staff read the delivery log and send broadcasts; a due broadcast becomes its messages."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

from carnet_runtime import Refusal

from ..domain import (
    Broadcast,
    BroadcastText,
    Message,
    NewMessage,
    RetentionPolicy,
    Template,
    distinct_recipients,
    message_key,
    normalise_recipient,
    plan_broadcast,
)
from ..rendering import Renderer
from ..store import NotificationUnitOfWork

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ListMessages:
    recipient: str | None = None
    limit: int = 100
    before: datetime | None = None  # only messages created before this instant (paging)


@dataclass(frozen=True)
class ScheduleBroadcast:
    audience: str
    subject: str
    body: str
    send_at: datetime | None  # now when absent
    requested_by: str


@dataclass(frozen=True)
class ScheduledBroadcast:
    broadcast: Broadcast
    recipients_known_now: int  # recipients are chosen when it goes out: this is how many are known now


async def list_messages(uow: NotificationUnitOfWork, query: ListMessages) -> list[Message]:
    """Newest first; bodies as stored: a link, code or token replaced by its placeholder."""
    recipient = None if query.recipient is None else normalise_recipient(query.recipient)
    async with uow:
        return await uow.messages.list(recipient, query.limit, query.before)


async def schedule_broadcast(uow: NotificationUnitOfWork, command: ScheduleBroadcast,
                             now: datetime) -> ScheduledBroadcast:
    plan = plan_broadcast(command.audience, command.subject, command.body, command.send_at, now)
    async with uow:
        broadcast = await uow.broadcasts.add(uuid.uuid4(), plan, command.requested_by)
        known = distinct_recipients(await uow.people.audience(plan.audience))
    return ScheduledBroadcast(broadcast, len(known))


async def get_broadcast(uow: NotificationUnitOfWork, broadcast_id: uuid.UUID) -> Broadcast:
    async with uow:
        broadcast = await uow.broadcasts.get(broadcast_id)
    if broadcast is None:
        raise Refusal("BROADCAST_NOT_FOUND", "Cette diffusion n'existe pas.", {"broadcast_id": str(broadcast_id)})
    return broadcast


async def expand_due_broadcasts(uow: NotificationUnitOfWork, renderer: Renderer, retention: RetentionPolicy,
                                now: datetime) -> int:
    """A due broadcast becomes one message per distinct recipient, in the transaction that marks it
    expanded: a restart before send_at waits, a restart after finds it done. The number expanded."""
    async with uow:
        due = await uow.broadcasts.claim_due(now)
        for broadcast in due:
            recipients = distinct_recipients(await uow.people.audience(broadcast.audience))
            rendered = renderer.render(BroadcastText(subject=broadcast.subject, body=broadcast.body))
            until = retention.forget_at(None, now)
            for recipient in recipients:
                await uow.messages.add(NewMessage(
                    event_id=message_key(broadcast.broadcast_id, recipient),
                    template=Template.BROADCAST,
                    recipient=recipient,
                    rendered=rendered,
                    forget_at=until,
                    source_event_id=broadcast.broadcast_id,
                ))
            await uow.broadcasts.mark_expanded(broadcast.broadcast_id, len(recipients), now)
            log.info("broadcast expanded", extra={"audience": broadcast.audience.value, "recipients": len(recipients)})
    return len(due)
