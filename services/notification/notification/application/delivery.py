"""Sending: claim due messages (SELECT ... FOR UPDATE SKIP LOCKED, so replicas share the work), fetch a
ticket sheet when one is to be attached, put a sealed secret in its placeholder's place in the e-mail
only, hand it to the SMTP server, and let domain.Delivery decide what comes next. Each outcome is
written with its MessageDelivered / MessageFailed event in one unit of work (outbox); once a message
is sent or has failed for good its sealed secret is dropped, and the log keeps the redacted body.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Protocol

from prometheus_client import Counter, Gauge

from carnet_contracts.events import MessageDelivered, MessageFailed
from carnet_contracts.sealing import InvalidToken
from carnet_runtime import Refusal

from ..domain import (
    AttemptOutcome,
    Impossible,
    Message,
    MessageState,
    RetentionPolicy,
    RetryPolicy,
    Unreachable,
)
from ..rendering import Attachment, Renderer, build_email
from ..settings import NotificationSettings
from ..store import NotificationUnitOfWork
from .broadcasts import expand_due_broadcasts

log = logging.getLogger(__name__)

MESSAGES_BY_STATE = Gauge("carnet_notification_messages", "E-mails by delivery state", ["state"])
ATTEMPTS = Counter("carnet_notification_attempts_total", "Delivery attempts by template and outcome", ["template", "outcome"])


class Mailer(Protocol):
    async def send(self, mail: EmailMessage, recipient: str) -> AttemptOutcome: ...


class SheetSource(Protocol):
    async def fetch(self, wallet_id: str, positions: tuple[int, ...]) -> bytes | AttemptOutcome: ...


class DeliveryWorker:
    def __init__(
        self,
        uow: Callable[[], NotificationUnitOfWork],
        settings: NotificationSettings,
        renderer: Renderer,
        mailer: Mailer,
        sheets: SheetSource,
        unseal: Callable[[str], str],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        self.uow = uow
        self.settings = settings
        self.renderer = renderer
        self.mailer = mailer
        self.sheets = sheets
        self.unseal = unseal
        self.clock = clock
        self.policy: RetryPolicy = settings.retry_policy()
        self.retention: RetentionPolicy = settings.retention_policy()

    async def work(self) -> None:
        """One tick of the worker: expand due broadcasts and send due messages, until nothing is due."""
        while await self.step():
            pass

    async def step(self) -> int:
        await expand_due_broadcasts(self.uow(), self.renderer, self.retention, self.clock())
        return await self.deliver_due()

    async def deliver_due(self) -> int:
        """Claim a batch of due messages and attempt each (a few SMTP conversations at once: a broadcast
        to every family is tens of thousands of messages). The number claimed."""
        lease = timedelta(seconds=self.settings.sending_lease_seconds)
        async with self.uow() as uow:
            claimed = await uow.messages.claim_due(self.clock(), self.settings.worker_batch_size, lease)
        gate = asyncio.Semaphore(self.settings.worker_concurrency)

        async def deliver(message: Message) -> None:
            async with gate:
                await self.deliver(message)

        results = await asyncio.gather(*(deliver(m) for m in claimed), return_exceptions=True)
        for result in results:
            if isinstance(result, Exception):
                raise result  # the next tick goes on; the message is taken again after its lease
        return len(claimed)

    async def deliver(self, message: Message) -> None:
        try:
            outcome = await self._attempt(message)
        except Exception as exc:  # a defect must not wedge the message: retried, then failed
            log.exception("delivery attempt crashed", extra={"message_id": str(message.message_id)})
            outcome = Unreachable(f"erreur interne ({type(exc).__name__})")
        now = self.clock()
        delivery = message.delivery.conclude(outcome, now, self.policy, spread=random.random())
        ATTEMPTS.labels(message.template.value, delivery.state.value).inc()
        async with self.uow() as uow:
            if not await uow.messages.conclude(message.message_id, delivery, now, forget_secret=delivery.is_final):
                return
            common = {"message_id": str(message.message_id), "template": message.template.value,
                      "source_event_id": None if message.source_event_id is None else str(message.source_event_id),
                      "attempts": delivery.attempts}
            if delivery.state is MessageState.SENT:
                uow.publish(MessageDelivered(**common, delivered_at=now), campaign_id=message.campaign_id)
            elif delivery.state is MessageState.FAILED:
                uow.publish(MessageFailed(**common, reason=delivery.last_error or "", failed_at=now),
                            campaign_id=message.campaign_id)
        if delivery.state is not MessageState.SENT:
            log.info("message not delivered", extra={
                "message_id": str(message.message_id), "template": message.template.value,
                "state": delivery.state.value, "attempts": delivery.attempts, "reason": delivery.last_error})

    async def _attempt(self, message: Message) -> AttemptOutcome:
        rendered = message.rendered
        if message.recipient is None or rendered is None:
            return Impossible("données personnelles déjà effacées")
        if message.secret is not None:
            try:
                rendered = message.secret.reveal(rendered, self.unseal(message.secret.sealed))
            except (InvalidToken, Refusal):
                return Impossible("secret illisible ou inutilisable")
        attachments: tuple[Attachment, ...] = ()
        if message.attachment is not None:
            fetched = await self.sheets.fetch(message.attachment.wallet_id, message.attachment.positions)
            if not isinstance(fetched, bytes):
                return fetched
            attachments = (Attachment(filename=message.attachment.filename, content=fetched),)
        mail = build_email(
            rendered,
            sender=self.settings.mail_from,
            recipient=message.recipient,
            message_id=message.message_id,
            sender_domain=self.settings.sender_domain,
            sent_at=self.clock(),
            attachments=attachments,
        )
        return await self.mailer.send(mail, message.recipient)


async def count_messages_by_state(uow: NotificationUnitOfWork) -> None:
    """The gauge of messages by delivery state."""
    async with uow:
        counts = await uow.messages.count_by_state()
    for state in MessageState:
        MESSAGES_BY_STATE.labels(state.value).set(counts.get(state, 0))


async def forget_personal_data(uow: NotificationUnitOfWork, now: datetime) -> int:
    """The retention rule: erase what is due to be forgotten. The number of messages forgotten."""
    async with uow:
        erased = await uow.retention.forget_due(now)
    if erased:
        log.info("personal data forgotten", extra={"messages": erased})
    return erased
