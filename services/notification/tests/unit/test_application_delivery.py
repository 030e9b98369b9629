"""Sending, on an in-memory unit of work with a fake SMTP server and wallet: what the mail carries,
what the log keeps, which event leaves."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy

from carnet_contracts.events import MessageDelivered, MessageFailed
from carnet_contracts.sealing import seal, unseal
from notification.application.broadcasts import ScheduleBroadcast, get_broadcast, schedule_broadcast
from notification.application.delivery import DeliveryWorker, forget_personal_data
from notification.domain import (
    AffiliateInvitation,
    ConventionSigned,
    Impossible,
    MessageState,
    NewMessage,
    Refused,
    SealedSecret,
    SheetRequest,
    Template,
    TicketsSheet,
    Unreachable,
)
from notification.rendering import Branding, Renderer, wire_bytes
from notification.settings import NotificationSettings

from .fakes import FakeMailer, FakeNotificationUnitOfWork, FakeSheets

KEY = "unit-test-seal-key-" + "0" * 32
NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
SETTINGS = NotificationSettings(CARNET_SEAL_KEY=KEY, retry_first_delay_seconds=10)
renderer = Renderer(Branding())


def worker(uow, mailer=None, sheets=None, clock=lambda: NOW) -> DeliveryWorker:
    return DeliveryWorker(uow, SETTINGS, renderer, mailer or FakeMailer(), sheets or FakeSheets(),
                          lambda sealed: unseal(sealed, KEY), clock=clock)


async def queue_invitation(uow: FakeNotificationUnitOfWork, token: str = "Act1vation-T0ken") -> NewMessage:
    secret = SealedSecret.link(seal(token, KEY), "https://pass.example/activation")
    message = NewMessage(
        event_id=uuid.uuid4(), template=Template.AFFILIATE_INVITATION, recipient="club@example.org",
        rendered=renderer.render(AffiliateInvitation(affiliate_name="Judo", login="judo",
                                                     activation_link=secret.placeholder)),
        forget_at=NOW + timedelta(days=400), secret=secret,
    )
    async with uow:
        await uow.messages.add(message)
    return message


async def queue_sheet(uow: FakeNotificationUnitOfWork, positions: tuple[int, ...]) -> None:
    async with uow:
        await uow.messages.add(NewMessage(
            event_id=uuid.uuid4(), template=Template.TICKETS_SHEET, recipient="lea@example.fr",
            rendered=renderer.render(TicketsSheet(positions=positions)), forget_at=NOW + timedelta(days=1),
            attachment=SheetRequest("wal-1", positions),
        ))


def sent_text(mailer: FakeMailer) -> tuple[str, str]:
    (mail, _), = mailer.sent
    parsed = message_from_bytes(wire_bytes(mail), policy=policy.default)
    return parsed.get_body(("plain",)).get_content(), parsed.get_body(("html",)).get_content()


async def test_the_mail_carries_the_link_while_the_log_keeps_the_placeholder_and_the_secret_goes():
    uow, mailer = FakeNotificationUnitOfWork(), FakeMailer()
    queued = await queue_invitation(uow)
    await worker(uow, mailer).work()
    text, html = sent_text(mailer)
    assert "https://pass.example/activation?token=Act1vation-T0ken" in text.splitlines()
    assert 'href="https://pass.example/activation?token=Act1vation-T0ken"' in html
    (logged,) = uow.messages.all()
    assert logged.delivery.state is MessageState.SENT and logged.secret is None
    assert "[lien retiré]" in logged.text and "Act1vation-T0ken" not in logged.text + logged.html
    ((event, _),) = uow.published
    assert isinstance(event, MessageDelivered) and event.message_id == str(queued.message_id)
    assert event.attempts == 1


async def test_a_temporary_failure_keeps_the_sealed_secret_for_the_next_attempt():
    uow, mailer = FakeNotificationUnitOfWork(), FakeMailer(Refused(451, "4.3.0 try again later"))
    queued = await queue_invitation(uow)
    await worker(uow, mailer).work()
    (waiting,) = uow.messages.all()
    assert waiting.delivery.state is MessageState.PENDING and waiting.secret == queued.secret
    assert uow.published == []
    await worker(uow, mailer, clock=lambda: NOW + timedelta(minutes=1)).work()
    assert "?token=Act1vation-T0ken" in sent_text(mailer)[0]
    assert uow.messages.all()[0].secret is None


async def test_a_permanent_refusal_fails_the_message_publishes_message_failed_and_drops_the_secret():
    uow = FakeNotificationUnitOfWork()
    await queue_invitation(uow)
    await worker(uow, FakeMailer(Refused(550, "5.1.1 <club@example.org>: unknown"))).work()
    (failed,) = uow.messages.all()
    assert failed.delivery.state is MessageState.FAILED and failed.secret is None
    ((event, _),) = uow.published
    assert isinstance(event, MessageFailed) and event.reason == "550 5.1.1 <[adresse]>: unknown"


async def test_a_secret_that_no_longer_unseals_fails_the_message_and_sends_nothing():
    uow, mailer = FakeNotificationUnitOfWork(), FakeMailer()
    await queue_invitation(uow)
    other_key = DeliveryWorker(uow, SETTINGS, renderer, mailer, FakeSheets(),
                               lambda sealed: unseal(sealed, "another-key-" + "1" * 32), clock=lambda: NOW)
    await other_key.work()
    (failed,) = uow.messages.all()
    assert failed.delivery.state is MessageState.FAILED and failed.secret is None and mailer.sent == []
    assert failed.delivery.last_error == "secret illisible ou inutilisable"


async def test_the_ticket_sheet_is_fetched_at_send_time_and_attached():
    uow, mailer, sheets = FakeNotificationUnitOfWork(), FakeMailer(), FakeSheets()
    await queue_sheet(uow, (1, 3))
    await worker(uow, mailer, sheets).work()
    assert sheets.asked == [("wal-1", (1, 3))]
    ((mail, _),) = mailer.sent
    (attachment,) = list(mail.iter_attachments())
    assert attachment.get_filename() == "tickets.pdf" and attachment.get_content() == b"%PDF-1.4 sheet"


async def test_a_wallet_that_refuses_the_sheet_fails_the_message():
    uow = FakeNotificationUnitOfWork()
    await queue_sheet(uow, (2,))
    await worker(uow, sheets=FakeSheets(Impossible("feuille de tickets refusée par le porte-monnaie (409)"))).work()
    (failed,) = uow.messages.all()
    assert failed.delivery.state is MessageState.FAILED and "409" in failed.delivery.last_error


async def test_an_unreachable_wallet_is_retried_like_an_unreachable_smtp_server():
    uow = FakeNotificationUnitOfWork()
    await queue_sheet(uow, (2,))
    await worker(uow, sheets=FakeSheets(Unreachable("porte-monnaie indisponible (503)"))).work()
    (waiting,) = uow.messages.all()
    assert waiting.delivery.state is MessageState.PENDING and waiting.delivery.next_attempt_at > NOW


async def test_a_due_broadcast_goes_once_to_each_distinct_recipient():
    uow, mailer = FakeNotificationUnitOfWork(), FakeMailer()
    for i, email in enumerate(["lea@example.fr", "LEA@example.fr ", "bob@example.fr"]):
        await uow.people.remember_family(f"app-{i}", "2026-2027", email, NOW + timedelta(days=1))
    scheduled = await schedule_broadcast(uow, ScheduleBroadcast(
        audience="families", subject="Lancement", body="Bonjour,\n\nC'est parti.", send_at=None,
        requested_by="admin-1"), NOW)
    assert scheduled.recipients_known_now == 2
    await worker(uow, mailer).work()
    await worker(uow, mailer, clock=lambda: NOW + timedelta(hours=1)).work()
    assert sorted(recipient for _, recipient in mailer.sent) == ["bob@example.fr", "lea@example.fr"]
    broadcast = await get_broadcast(uow, scheduled.broadcast.broadcast_id)
    assert broadcast.recipient_count == 2 and broadcast.messages_by_state == {"sent": 2}


async def test_a_broadcast_scheduled_later_waits_for_its_time():
    uow, mailer = FakeNotificationUnitOfWork(), FakeMailer()
    await uow.people.remember_correspondent("0920001A", "principal@college.fr")
    scheduled = await schedule_broadcast(uow, ScheduleBroadcast(
        audience="correspondents", subject="Rappel", body="Bonjour", send_at=NOW + timedelta(days=1),
        requested_by="admin-1"), NOW)
    await worker(uow, mailer).work()
    assert mailer.sent == [] and (await get_broadcast(uow, scheduled.broadcast.broadcast_id)).recipient_count is None
    await worker(uow, mailer, clock=lambda: NOW + timedelta(days=1)).work()
    assert [recipient for _, recipient in mailer.sent] == ["principal@college.fr"]


async def test_a_message_forgotten_before_it_could_be_sent_is_failed_and_never_sent():
    uow, mailer = FakeNotificationUnitOfWork(), FakeMailer(Refused(421, "4.7.0 later"))
    async with uow:
        await uow.messages.add(NewMessage(
            event_id=uuid.uuid4(), template=Template.CONVENTION_SIGNED, recipient="club@example.org",
            rendered=renderer.render(ConventionSigned(affiliate_name="Judo")), forget_at=NOW + timedelta(hours=1),
        ))
    await worker(uow, mailer).work()
    assert await forget_personal_data(uow, NOW + timedelta(hours=1)) == 1
    await worker(uow, mailer, clock=lambda: NOW + timedelta(hours=2)).work()
    (gone,) = uow.messages.all()
    assert gone.recipient is None and gone.text is None and mailer.sent == []
