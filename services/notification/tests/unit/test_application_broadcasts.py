"""The staff's requests, on an in-memory unit of work: refusals and what they change."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from carnet_runtime import Refusal
from notification.application.broadcasts import (
    ListMessages,
    ScheduleBroadcast,
    get_broadcast,
    list_messages,
    schedule_broadcast,
)
from notification.domain import BroadcastStatus, NewMessage, RenderedMessage, Template

from .fakes import FakeNotificationUnitOfWork

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


async def test_an_unknown_broadcast_is_refused_with_broadcast_not_found():
    with pytest.raises(Refusal) as refused:
        await get_broadcast(FakeNotificationUnitOfWork(), uuid.uuid4())
    assert refused.value.code == "BROADCAST_NOT_FOUND"


async def test_the_log_asked_for_a_malformed_address_is_refused_naming_the_recipient_field():
    with pytest.raises(Refusal) as refused:
        await list_messages(FakeNotificationUnitOfWork(), ListMessages(recipient="lea at example"))
    assert refused.value.code == "INVALID_RECIPIENT"
    assert refused.value.details == {"fields": [{"field": "recipient", "problem": refused.value.message}]}


async def test_the_log_is_read_for_one_address_however_it_is_written():
    uow = FakeNotificationUnitOfWork()
    for recipient in ("lea@example.fr", "bob@example.fr"):
        await uow.messages.add(NewMessage(
            event_id=uuid.uuid4(), template=Template.CONVENTION_SIGNED, recipient=recipient,
            rendered=RenderedMessage("Objet", "Texte", "<p>Texte</p>"), forget_at=NOW + timedelta(days=1),
        ))
    (found,) = await list_messages(uow, ListMessages(recipient=" Lea@Example.fr"))
    assert found.recipient == "lea@example.fr"


async def test_a_refused_broadcast_stores_nothing():
    uow = FakeNotificationUnitOfWork()
    with pytest.raises(Refusal) as refused:
        await schedule_broadcast(uow, ScheduleBroadcast(
            audience="everyone", subject="", body="", send_at=None, requested_by="admin-1"), NOW)
    assert refused.value.code == "VALIDATION_ERROR"
    assert uow.broadcasts.rows == {} and uow.published == []


async def test_a_broadcast_in_the_past_is_scheduled_for_now():
    scheduled = await schedule_broadcast(FakeNotificationUnitOfWork(), ScheduleBroadcast(
        audience="affiliates", subject="Objet", body="Texte", send_at=NOW - timedelta(days=1),
        requested_by="admin-1"), NOW)
    assert scheduled.broadcast.send_at == NOW and scheduled.broadcast.status is BroadcastStatus.SCHEDULED
    assert scheduled.recipients_known_now == 0
