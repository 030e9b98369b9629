"""The delivery worker, inside the service process: expands due broadcasts, claims due messages
(SELECT ... FOR UPDATE SKIP LOCKED, so replicas share the work), fetches a ticket sheet when one
is to be attached, sends over SMTP, and lets domain.Delivery decide what comes next. Each outcome
is written with its MessageDelivered / MessageFailed event in one transaction (outbox).
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import parseaddr

import aiosmtplib
import asyncpg
import httpx
from prometheus_client import Counter, Gauge

from carnet_contracts.events import MessageDelivered, MessageFailed
from carnet_runtime.outbox import Outbox

from . import store
from .domain import (
    Accepted,
    AttemptOutcome,
    Audience,
    BroadcastText,
    Impossible,
    MessageState,
    Refused,
    RetryPolicy,
    Template,
    Unreachable,
    distinct_recipients,
    forget_at,
    message_key,
)
from .rendering import Attachment, Renderer, RenderedMessage, build_email, wire_bytes
from .settings import NotificationSettings

log = logging.getLogger(__name__)

MESSAGES_BY_STATE = Gauge("carnet_notification_messages", "E-mails by delivery state", ["state"])
ATTEMPTS = Counter("carnet_notification_attempts_total", "Delivery attempts by template and outcome", ["template", "outcome"])


class Mailer:
    """One SMTP conversation per message: simple, and a dead connection never spoils a batch."""

    def __init__(self, settings: NotificationSettings):
        self.settings = settings
        self.envelope_sender = parseaddr(settings.mail_from)[1]

    async def send(self, mail: EmailMessage, recipient: str) -> AttemptOutcome:
        s = self.settings
        client = aiosmtplib.SMTP(
            hostname=s.smtp_host,
            port=s.smtp_port,
            username=s.smtp_username,
            password=s.smtp_password,
            start_tls=s.smtp_starttls,
            timeout=s.smtp_timeout_seconds,
        )
        try:
            async with client:
                if client.is_ehlo_or_helo_needed:
                    await client.ehlo()
                eight_bit = client.supports_extension("8BITMIME")
                await client.sendmail(
                    self.envelope_sender,
                    [recipient],
                    wire_bytes(mail, eight_bit=eight_bit),
                    mail_options=["BODY=8BITMIME"] if eight_bit else [],
                )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            refusal = exc.recipients[0]
            return Refused(refusal.code, refusal.message)
        except (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError) as exc:
            return Unreachable(type(exc).__name__)
        except aiosmtplib.SMTPResponseException as exc:
            return Refused(exc.code, exc.message)
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            return Unreachable(type(exc).__name__)
        return Accepted()


class TicketSheets:
    """The one call off any request path: the wallet renders the sheet, so codes never travel on Kafka."""

    def __init__(self, settings: NotificationSettings, token: Callable[[], str]):
        self.settings = settings
        self.token = token

    async def fetch(self, wallet_id: str, positions: list[int]) -> bytes | AttemptOutcome:
        url = f"{self.settings.wallet_url.rstrip('/')}/v1/wallets/{wallet_id}/tickets.pdf"
        try:
            async with httpx.AsyncClient(timeout=self.settings.wallet_timeout_seconds) as client:
                response = await client.get(
                    url,
                    params={"positions": ",".join(map(str, positions))},
                    headers={"Authorization": f"Bearer {self.token()}", "Accept": "application/pdf"},
                )
        except httpx.HTTPError as exc:
            return Unreachable(f"porte-monnaie injoignable ({type(exc).__name__})")
        if response.status_code == 200 and response.content.startswith(b"%PDF"):
            return response.content
        if response.status_code in (408, 425, 429) or response.status_code >= 500:
            return Unreachable(f"porte-monnaie indisponible ({response.status_code})")
        return Impossible(f"feuille de tickets refusée par le porte-monnaie ({response.status_code})")


class DeliveryWorker:
    def __init__(
        self,
        pool: asyncpg.Pool,
        settings: NotificationSettings,
        outbox: Outbox,
        renderer: Renderer,
        mailer: Mailer,
        sheets: TicketSheets,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        self.pool = pool
        self.settings = settings
        self.outbox = outbox
        self.renderer = renderer
        self.mailer = mailer
        self.sheets = sheets
        self.clock = clock
        self.policy: RetryPolicy = settings.retry_policy()
        self._counted_at = float("-inf")

    async def run(self) -> None:
        """Until cancelled; a database outage pauses it, never stops it."""
        backoff = 0.5
        while True:
            try:
                await self.expand_due_broadcasts()
                worked = await self.deliver_due()
                await self.count_by_state()
                backoff = 0.5
                if not worked:
                    await asyncio.sleep(self.settings.worker_poll_seconds)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("delivery paused", extra={"error": type(exc).__name__, "backoff_s": backoff})
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)

    async def count_by_state(self) -> None:
        now = asyncio.get_running_loop().time()
        if now < self._counted_at + 5.0:
            return
        self._counted_at = now
        counts = {r["state"]: r["n"] for r in await self.pool.fetch("SELECT state, count(*) AS n FROM messages GROUP BY state")}
        for state in ("pending", "sending", "sent", "failed"):
            MESSAGES_BY_STATE.labels(state).set(counts.get(state, 0))

    # --- broadcasts ---------------------------------------------------------------------------

    async def expand_due_broadcasts(self) -> int:
        """A due broadcast becomes one message per distinct recipient, in the transaction that
        marks it expanded: a restart before send_at waits, a restart after finds it done."""
        now = self.clock()
        async with self.pool.acquire() as conn, conn.transaction():
            due = await store.claim_due_broadcasts(conn, now)
            for broadcast in due:
                audience = Audience(broadcast["audience"])
                recipients = distinct_recipients(await store.audience_addresses(conn, audience))
                rendered = self.renderer.render(BroadcastText(subject=broadcast["subject"], body=broadcast["body"]))
                until = forget_at(None, now, self.settings.retention_days, self.settings.retention_without_campaign_days)
                for recipient in recipients:
                    await store.enqueue(
                        conn,
                        event_id=message_key(broadcast["broadcast_id"], recipient),
                        template=Template.BROADCAST,
                        recipient=recipient,
                        rendered=rendered,
                        forget_at=until,
                        source_event_id=broadcast["broadcast_id"],
                    )
                await store.mark_expanded(conn, broadcast["broadcast_id"], len(recipients), now)
                log.info("broadcast expanded", extra={"audience": audience.value, "recipients": len(recipients)})
        return len(due)

    # --- messages -----------------------------------------------------------------------------

    async def deliver_due(self) -> int:
        now = self.clock()
        lease = timedelta(seconds=self.settings.sending_lease_seconds)
        async with self.pool.acquire() as conn, conn.transaction():
            claimed = await store.claim_due(conn, now, self.settings.worker_batch_size, lease)
        # a few conversations at once: a broadcast to every family is tens of thousands of messages
        gate = asyncio.Semaphore(self.settings.worker_concurrency)

        async def deliver(row: asyncpg.Record) -> None:
            async with gate:
                await self.deliver(row)

        results = await asyncio.gather(*(deliver(row) for row in claimed), return_exceptions=True)
        for result in results:
            if isinstance(result, Exception):
                raise result  # the run loop backs off; the message is taken again after its lease
        return len(claimed)

    async def deliver(self, row: asyncpg.Record) -> None:
        try:
            outcome = await self._attempt(row)
        except Exception as exc:  # a defect must not wedge the message: retried, then failed
            log.exception("delivery attempt crashed", extra={"message_id": str(row["message_id"])})
            outcome = Unreachable(f"erreur interne ({type(exc).__name__})")
        now = self.clock()
        delivery = store.delivery_of(row).conclude(outcome, now, self.policy, spread=random.random())
        ATTEMPTS.labels(row["template"], delivery.state.value).inc()
        async with self.pool.acquire() as conn, conn.transaction():
            if not await store.conclude(conn, row["message_id"], delivery, now):
                return
            if delivery.state is MessageState.SENT:
                await self.outbox.add(
                    conn,
                    MessageDelivered(
                        message_id=str(row["message_id"]),
                        template=row["template"],
                        source_event_id=_str(row["source_event_id"]),
                        attempts=delivery.attempts,
                        delivered_at=now,
                    ),
                    campaign_id=row["campaign_id"],
                )
            elif delivery.state is MessageState.FAILED:
                await self.outbox.add(
                    conn,
                    MessageFailed(
                        message_id=str(row["message_id"]),
                        template=row["template"],
                        source_event_id=_str(row["source_event_id"]),
                        attempts=delivery.attempts,
                        reason=delivery.last_error or "",
                        failed_at=now,
                    ),
                    campaign_id=row["campaign_id"],
                )
        if delivery.state is not MessageState.SENT:
            log.info(
                "message not delivered",
                extra={"message_id": str(row["message_id"]), "template": row["template"],
                       "state": delivery.state.value, "attempts": delivery.attempts, "reason": delivery.last_error},
            )

    async def _attempt(self, row: asyncpg.Record) -> AttemptOutcome:
        if row["recipient"] is None:
            return Impossible("données personnelles déjà effacées")
        attachments: tuple[Attachment, ...] = ()
        sheet = row["attachment"]
        if sheet:
            fetched = await self.sheets.fetch(sheet["wallet_id"], sheet["positions"])
            if not isinstance(fetched, bytes):
                return fetched
            attachments = (Attachment(filename=sheet.get("filename", "tickets.pdf"), content=fetched),)
        mail = build_email(
            RenderedMessage(subject=row["subject"], text=row["body_text"], html=row["body_html"]),
            sender=self.settings.mail_from,
            recipient=row["recipient"],
            message_id=row["message_id"],
            sender_domain=self.settings.sender_domain,
            sent_at=self.clock(),
            attachments=attachments,
        )
        return await self.mailer.send(mail, row["recipient"])


async def forget_personal_data(pool: asyncpg.Pool, settings: NotificationSettings) -> None:
    """The retention rule, applied every retention_sweep_seconds."""
    while True:
        try:
            async with pool.acquire() as conn, conn.transaction():
                erased = await store.forget_due(conn, datetime.now(UTC))
            if erased:
                log.info("personal data forgotten", extra={"messages": erased})
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("retention sweep failed", extra={"error": type(exc).__name__})
        await asyncio.sleep(settings.retention_sweep_seconds)


def _str(value: uuid.UUID | None) -> str | None:
    return None if value is None else str(value)
