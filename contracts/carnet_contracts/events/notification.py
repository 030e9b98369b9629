"""Events of the notification service: what became of a message."""

from __future__ import annotations

from datetime import datetime

from .. import topics
from ..envelope import Event

# --- notification.messages ------------------------------------------------------------------


class _MessageOutcome(Event):
    """Which message, from which event, after how many attempts."""

    message_id: str
    template: str
    source_event_id: str | None = None
    attempts: int


class MessageDelivered(_MessageOutcome):
    event_type = "MessageDelivered"
    topic = topics.NOTIFICATION_MESSAGES

    delivered_at: datetime


class MessageFailed(_MessageOutcome):
    event_type = "MessageFailed"
    topic = topics.NOTIFICATION_MESSAGES

    reason: str
    failed_at: datetime
