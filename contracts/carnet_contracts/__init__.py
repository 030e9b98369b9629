"""Carnet's shared vocabulary: the envelope, the topics and every event."""

from .envelope import Envelope, Event, UnknownEvent
from .topics import ALL_TOPICS, Topic

__all__ = ["ALL_TOPICS", "Envelope", "Event", "Topic", "UnknownEvent"]
