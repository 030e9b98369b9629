"""Events of the notification service: what became of a message."""

from __future__ import annotations

from datetime import datetime

from .. import topics
from ..envelope import Event

# --- notification.messages ------------------------------------------------------------------


class MessageDelivered(Event):
    event_type = "MessageDelivered"
    topic = topics.NOTIFICATION_MESSAGES

    message_id: str
    template: str
    source_event_id: str | None = None
    attempts: int
    delivered_at: datetime


class MessageFailed(Event):
    event_type = "MessageFailed"
    topic = topics.NOTIFICATION_MESSAGES

    message_id: str
    template: str
    source_event_id: str | None = None
    attempts: int
    reason: str
    failed_at: datetime
