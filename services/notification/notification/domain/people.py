"""Who receives a message: addresses written one way, one copy per person, broadcasts to an audience."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from carnet_runtime import Refusal, field_errors, invalid_fields

_ADDRESS = re.compile(r"[^@\s<>,;\"']+@[^@\s<>,;\"']+\.[^@\s<>,;\"']+")
_INVALID_RECIPIENT = "L'adresse de courriel du destinataire n'est pas valide."


def normalise_recipient(address: str) -> str:
    """One way of writing an address, so that one person gets one copy of a broadcast."""
    cleaned = address.strip()
    if not _ADDRESS.fullmatch(cleaned) or len(cleaned) > 254:
        raise Refusal("INVALID_RECIPIENT", _INVALID_RECIPIENT, field_errors({"recipient": _INVALID_RECIPIENT}))
    return cleaned.lower()


def distinct_recipients(addresses: Iterable[str | None]) -> list[str]:
    """Each valid address once, in first-seen order; unusable addresses are skipped."""
    seen: dict[str, None] = {}
    for address in addresses:
        if not address:
            continue
        try:
            seen.setdefault(normalise_recipient(address), None)
        except Refusal:
            continue
    return list(seen)


def message_key(event_id: uuid.UUID, part: str | None = None) -> uuid.UUID:
    """The id under which a message is sent once.

    An event that tells one person one thing is its own key; one that fans out (a broadcast,
    a batch paid to many affiliates) derives one stable key per recipient, so that the
    unique (event_id, template) still holds however often the event arrives.
    """
    return event_id if part is None else uuid.uuid5(event_id, part)


_EMAIL_IN_TEXT = re.compile(r"[^@\s<>\"'(),;:]+@[^@\s<>\"'(),;:]+")


def redact(text: str) -> str:
    """An SMTP reply without the addresses it often quotes, fit for logs and events."""
    return _EMAIL_IN_TEXT.sub("[adresse]", text)[:500]


# --- Broadcasts ----------------------------------------------------------------------------


class Audience(StrEnum):
    CORRESPONDENTS = "correspondents"
    FAMILIES = "families"
    AFFILIATES = "affiliates"


class BroadcastStatus(StrEnum):
    SCHEDULED = "scheduled"
    EXPANDED = "expanded"  # its messages are queued


SUBJECT_MAX = 200
BODY_MAX = 20_000


@dataclass(frozen=True)
class BroadcastPlan:
    """A broadcast the staff asked for, checked."""

    audience: Audience
    subject: str
    body: str
    send_at: datetime


@dataclass(frozen=True)
class Broadcast:
    broadcast_id: uuid.UUID
    audience: Audience
    subject: str
    body: str
    send_at: datetime
    status: BroadcastStatus
    created_at: datetime
    recipient_count: int | None = None  # known once expanded
    expanded_at: datetime | None = None
    messages_by_state: Mapping[str, int] = field(default_factory=dict)


def plan_broadcast(
    audience: str, subject: str, body: str, send_at: datetime | None, now: datetime
) -> BroadcastPlan:
    """A broadcast the staff asked for, checked: a one-line subject, a body, a time (now if absent
    or already past)."""
    problems: dict[str, str] = {}
    try:
        chosen = Audience(audience)
    except ValueError:
        problems["audience"] = "correspondents, families ou affiliates"
    subject = subject.strip()
    if not subject or len(subject) > SUBJECT_MAX or any(c in subject for c in "\r\n"):
        problems["subject"] = f"une ligne de 1 à {SUBJECT_MAX} caractères"
    if not body.strip() or len(body) > BODY_MAX:
        problems["body"] = f"un texte de 1 à {BODY_MAX} caractères"
    if send_at is not None and send_at.tzinfo is None:
        problems["send_at"] = "une date et une heure avec leur fuseau"
    if problems:
        raise invalid_fields(problems)
    when = now if send_at is None or send_at < now else send_at
    return BroadcastPlan(audience=chosen, subject=subject, body=body.strip(), send_at=when)
