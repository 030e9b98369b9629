"""The envelope every event travels in, and the base class of every event."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from .topics import Topic


class Event(BaseModel):
    """A past-tense fact. Subclasses name their type, schema version and topic."""

    # Unknown fields are ignored so that an additive change on the producer side
    # never breaks a consumer still on the older model.
    model_config = ConfigDict(extra="ignore", frozen=True)

    event_type: ClassVar[str]
    schema_version: ClassVar[int] = 1
    topic: ClassVar[Topic]
    # A retired version is no longer published (the outbox refuses it); consumers still read it, for
    # the messages already on the topic, until the topic's retention has removed them.
    retired: ClassVar[bool] = False

    def key(self) -> str:
        """The message key: the aggregate id named by the topic."""
        return str(getattr(self, self.topic.key))


class Envelope(BaseModel):
    model_config = ConfigDict(frozen=True)

    event_id: uuid.UUID
    event_type: str
    schema_version: int
    occurred_at: AwareDatetime
    producer: str
    campaign_id: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def wrap(
        cls,
        event: Event,
        *,
        producer: str,
        campaign_id: str | None = None,
        event_id: uuid.UUID | None = None,
        occurred_at: datetime | None = None,
    ) -> Envelope:
        return cls(
            event_id=event_id or uuid.uuid4(),
            event_type=event.event_type,
            schema_version=event.schema_version,
            occurred_at=occurred_at or datetime.now(UTC),
            producer=producer,
            campaign_id=campaign_id if campaign_id is not None else getattr(event, "campaign_id", None),
            data=event.model_dump(mode="json"),
        )

    def unwrap(self) -> Event:
        """The typed event; raises UnknownEvent or pydantic.ValidationError for a bad message."""
        from .events import model_for

        return model_for(self.event_type, self.schema_version).model_validate(self.data)


class UnknownEvent(LookupError):
    pass
