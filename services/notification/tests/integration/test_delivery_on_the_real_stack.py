"""The notification service as a process, on the session's real Kafka and PostgreSQL, sending to a
real SMTP server (aiosmtpd) on loopback. The wallet's ticket sheet comes from a small HTTP stand-in
that checks the service token like the wallet does (and is unavailable once when a test asks).

One notification process for the module (its own database and consumer group: no earlier test's
events reach it); each test has its own SMTP capture (a new server and folder on the process's SMTP
port) and its own campaign dated from today: any test runs alone, in any order, in any year."""

from __future__ import annotations

import asyncio
import email
import io
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email import policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from aiosmtpd.controller import Controller
from pypdf import PdfReader
from reportlab.pdfgen import canvas

from carnet_contracts import events as ev
from carnet_contracts.sealing import seal
from carnet_local.processes import free_port
from carnet_local.smtp import MailFolder
from carnet_runtime.auth import TokenVerifier

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)


def _sheet_pdf(positions: list[int]) -> bytes:
    out = io.BytesIO()
    page = canvas.Canvas(out)
    for i, position in enumerate(positions):
        page.drawString(72, 760 - 40 * i, f"Ticket {position}")
    page.save()
    return out.getvalue()


class WalletStandIn:
    """GET /v1/wallets/{id}/tickets.pdf: the sheet for a valid service token, 401 otherwise; 503 (the
    wallet restarting) to the first call after `unavailable_once`."""

    def __init__(self, keys_dir: Path):
        verifier = TokenVerifier(keys_dir, audience="wallet")
        self.calls: list[str] = []
        self.unavailable = threading.Event()
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                stand_in.calls.append(self.path)
                if stand_in.unavailable.is_set():
                    stand_in.unavailable.clear()
                    self.send_response(503)
                    self.end_headers()
                    return
                try:
                    principal = verifier.verify(self.headers.get("Authorization", "").removeprefix("Bearer "))
                except Exception:
                    principal = None
                if principal is None or principal.role != "service":
                    self.send_response(401)
                    self.end_headers()
                    return
                query = parse_qs(urlsplit(self.path).query)
                body = _sheet_pdf([int(p) for p in query["positions"][0].split(",")])
                self.send_response(200)
                self.send_header("Content-Type", "application/pdf")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def unavailable_once(self) -> None:
        self.unavailable.set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class FlakySmtp(MailFolder):
    """A real SMTP server that refuses for good any recipient at refuse.example (550) and
    answers 451 (try again later) to the first DATA of every other message."""

    def __init__(self, directory: Path):
        super().__init__(directory)
        self.seen: set[str] = set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address.endswith("@refuse.example"):
            return "550 5.1.1 <" + address + ">: Recipient address rejected"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        message_id = email.message_from_bytes(envelope.original_content or envelope.content)["Message-ID"]
        if message_id not in self.seen:
            self.seen.add(message_id)
            return "451 4.3.0 Temporary failure, try again later"
        return await super().handle_DATA(server, session, envelope)


class Mailbox:
    def __init__(self, directory: Path):
        self.directory = directory

    def messages(self, to: str | None = None) -> list[email.message.EmailMessage]:
        found = [
            email.message_from_bytes(p.read_bytes(), policy=policy.default)
            for p in sorted(self.directory.glob("*.eml"))
        ]
        return [m for m in found if to is None or m["To"] == to]

    async def wait_for(self, to: str, count: int = 1, timeout: float = 45.0) -> list[email.message.EmailMessage]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.messages(to)
            if len(got) >= count:
                return got
            await asyncio.sleep(0.2)
        raise AssertionError(f"{len(self.messages(to))} message(s) for {to} within {timeout} s, expected {count}")


@pytest.fixture(scope="module")
def smtp_port() -> int:
    return free_port()


@pytest.fixture
def mailbox(tmp_path, smtp_port):
    directory = tmp_path / "mail"
    directory.mkdir()
    controller = Controller(MailFolder(directory), hostname="127.0.0.1", port=smtp_port)
    controller.start()
    box = Mailbox(directory)
    box.controller = controller
    yield box
    if box.controller is not None:
        box.controller.stop()


@pytest.fixture(scope="module")
def wallet(stack):
    stand_in = WalletStandIn(stack.keys_dir)
    yield stand_in
    stand_in.stop()


@pytest.fixture(scope="module")
def notification(stack, smtp_port, wallet):
    process = stack.service(
        "notification",
        smtp_port=smtp_port,
        own_consumer_group=True,
        env={
            "CARNET_WALLET_URL": wallet.url,
            "CARNET_NOTIFICATION_RETRY_FIRST_DELAY_SECONDS": "0.5",
            "CARNET_NOTIFICATION_RETRY_MAX_DELAY_SECONDS": "2",
            "CARNET_NOTIFICATION_WORKER_POLL_SECONDS": "0.2",
            "CARNET_NOTIFICATION_ACTIVATION_URL": "https://pass.example/affilies/activation",
        },
    )
    process.start(timeout=120)
    yield process
    process.stop()


@dataclass(frozen=True)
class Campaign:
    campaign_id: str
    label: str
    pass_valid_until: date


@pytest.fixture
async def campaign(stack, notification) -> Campaign:
    """This test's campaign, under way today: its people are kept until long after the test."""
    today = datetime.now(UTC).date()
    published = Campaign(f"c-{uuid.uuid4().hex[:8]}", f"{today.year}-{today.year + 1}", today + timedelta(days=200))
    await stack.publish(ev.CampaignPublished(
        campaign_id=published.campaign_id, label=published.label, enrolment_opens=today - timedelta(days=30),
        enrolment_closes=today + timedelta(days=60), pass_valid_until=published.pass_valid_until,
        reimbursement_deadline=published.pass_valid_until + timedelta(days=30), allowance_cents=7000,
        tickets_per_pass=7, ticket_min_cents=500, ticket_max_cents=7000, eligible_postcode_prefixes=["92"],
        eligible_levels=["6e", "5e", "4e", "3e"],
    ))
    # known before the test's events arrive (other topics, no order between them): its people are
    # kept until the campaign's end plus the retention, as for a real campaign
    await stack.caught_up(notification.consumer_group, [ev.CampaignPublished.topic.name])
    return published


async def _settled(notification, stack, recipient: str, count: int, state: str = "sent", timeout: float = 60.0):
    """The delivery log of `recipient` once it holds `count` messages, all in `state` (a final state:
    the worker sends or fails nothing more for them)."""
    deadline = time.monotonic() + timeout
    log: list[dict] = []
    while time.monotonic() < deadline:
        log = await _messages(notification, stack, recipient)
        if len(log) >= count and {m["state"] for m in log} == {state}:
            return log
        await asyncio.sleep(0.2)
    raise AssertionError(f"{recipient}: {[m['state'] for m in log]} within {timeout} s, expected {count} {state}")


def _guardian(email_address: str) -> ev.Guardian:
    return ev.Guardian(last_name="Martin", first_name="Léa", email=email_address)


def _student() -> ev.Student:
    return ev.Student(last_name="Martin", first_name="Noé", birth_date=date(NOW.year - 12, 5, 4), level="5e")


def _submitted(campaign: Campaign, application_id: str, guardian_email: str) -> ev.ApplicationSubmitted:
    return ev.ApplicationSubmitted(
        application_id=application_id, campaign_id=campaign.campaign_id, school_id="0920001A", student=_student(),
        guardian=_guardian(guardian_email), submitted_at=NOW,
    )


def _affiliate_email(tag: str) -> str:
    return f"club-{tag}-{uuid.uuid4().hex[:6]}@example.org"


async def _messages(notification, stack, recipient: str) -> list[dict]:
    async with httpx.AsyncClient(base_url=notification.url) as client:
        response = await client.get("/v1/messages", params={"recipient": recipient}, headers=stack.auth("admin"))
    assert response.status_code == 200, response.text
    return response.json()["messages"]


async def test_each_template_arrives_to_its_recipient_with_its_subject_and_attachment(
    stack, notification, mailbox, wallet, campaign
):
    wallet.unavailable_once()
    calls_before = len(wallet.calls)
    seal_key = stack.secrets["CARNET_SEAL_KEY"]
    family = f"famille-{uuid.uuid4().hex[:6]}@example.fr"
    rejected_family = f"famille-{uuid.uuid4().hex[:6]}@example.fr"
    club = _affiliate_email("a")
    other_club = _affiliate_email("b")
    application_id, wallet_id = f"app-{uuid.uuid4().hex[:8]}", f"wal-{uuid.uuid4().hex[:8]}"
    activation_token = "Act1vation_Token-" + uuid.uuid4().hex

    await stack.publish(_submitted(campaign, application_id, family))
    # WalletCreated before PassGranted: the family is told once both are in, whatever the order
    await stack.publish(ev.WalletCreated(
        wallet_id=wallet_id, application_id=application_id, campaign_id=campaign.campaign_id, ticket_count=7,
        allowance_cents=7000, valid_until=campaign.pass_valid_until, student_first_name="Noé", guardian_email=family,
        created_at=NOW,
    ))
    await stack.publish(ev.PassGranted(
        application_id=application_id, campaign_id=campaign.campaign_id, campaign_label=campaign.label, school_id="0920001A",
        student=_student(), guardian=_guardian(family), allowance_cents=7000, tickets_per_pass=7,
        ticket_min_cents=500, ticket_max_cents=7000, pass_valid_until=campaign.pass_valid_until, validated_at=NOW,
    ))
    await stack.publish(ev.TicketsEmailRequested(
        request_id=str(uuid.uuid4()), wallet_id=wallet_id, campaign_id=campaign.campaign_id, positions=[3, 1],
        guardian_email=family, student_first_name="Noé", requested_at=NOW,
    ))
    await stack.publish(ev.ApplicationRejected(
        application_id=f"app-{uuid.uuid4().hex[:8]}", campaign_id=campaign.campaign_id, school_id="0920001A",
        student_first_name="Jules", guardian=_guardian(rejected_family), reason="Élève inconnu du collège",
        rejected_at=NOW,
    ))
    await stack.publish(ev.AffiliateInvited(
        affiliate_id="aff-a", name="Judo Club", login="judo-club", contact_email=club,
        sealed_activation_token=seal(activation_token, seal_key), activation_expires_at=NOW + timedelta(days=7),
    ))
    await stack.publish(ev.ConventionOtpIssued(
        affiliate_id="aff-a", name="Judo Club", contact_email=club, sealed_otp=seal("042917", seal_key),
        expires_at=NOW + timedelta(minutes=10),
    ))
    await stack.publish(ev.ConventionSigned(
        affiliate_id="aff-a", name="Judo Club", contact_email=club, convention_version="2026-1",
        document_sha256="0" * 64, signed_at=NOW,
    ))
    await stack.publish(ev.PasswordResetRequested(
        affiliate_id="aff-a", login="judo-club", contact_email=club, sealed_reset_token=seal("R3set", seal_key),
        expires_at=NOW + timedelta(hours=1),
    ))
    await stack.publish(ev.AffiliateLoginReminded(
        affiliate_id="aff-a", campaign_id=campaign.campaign_id, campaign_label=campaign.label, name="Judo Club",
        login="judo-club", contact_email=club,
    ))
    await stack.publish(ev.ReimbursementBatchPaid(
        batch_id="batch-1", campaign_id=campaign.campaign_id, redemption_ids=["r1", "r2", "r3"], total_cents=9000,
        paid_at=NOW, transfers=[
            ev.ReimbursementTransfer(affiliate_id="aff-a", name="Judo Club", contact_email=club,
                                     amount_cents=7000, count=2),
            ev.ReimbursementTransfer(affiliate_id="aff-b", name="Théâtre", contact_email=other_club,
                                     amount_cents=2000, count=1),
        ],
    ))

    family_mail = {m["Subject"]: m for m in await mailbox.wait_for(family, 3)}
    assert set(family_mail) == {
        "Pass Hauts-de-Seine : inscription de Noé Martin bien reçue",
        "Pass Hauts-de-Seine : le porte-monnaie électronique de Noé est prêt",
        "Pass Hauts-de-Seine : vos 2 tickets en pièce jointe",
    }
    sheet_mail = family_mail["Pass Hauts-de-Seine : vos 2 tickets en pièce jointe"]
    (attachment,) = list(sheet_mail.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == "tickets.pdf"
    pdf = PdfReader(io.BytesIO(attachment.get_content()))
    assert "Ticket 1" in pdf.pages[0].extract_text() and "Ticket 3" in pdf.pages[0].extract_text()
    assert any(
        urlsplit(call).path == f"/v1/wallets/{wallet_id}/tickets.pdf"
        and parse_qs(urlsplit(call).query)["positions"] == ["1,3"]
        for call in wallet.calls[calls_before:]
    )
    assert len(wallet.calls) - calls_before >= 2  # the first answer was 503: the worker tried again
    ready = family_mail["Pass Hauts-de-Seine : le porte-monnaie électronique de Noé est prêt"]
    assert ready.get_body(("plain",)).get_content().count("70\u00a0€") >= 1

    (rejection,) = await mailbox.wait_for(rejected_family)
    assert rejection["Subject"] == "Pass Hauts-de-Seine : l'inscription de Jules n'a pas été validée"
    assert "Élève inconnu du collège" in rejection.get_body(("plain",)).get_content()

    club_mail = {m["Subject"]: m for m in await mailbox.wait_for(club, 6)}
    invitation = club_mail["Pass Hauts-de-Seine : votre identifiant d'organisme affilié"]
    text = invitation.get_body(("plain",)).get_content()
    assert "judo-club" in text
    assert f"https://pass.example/affilies/activation?token={activation_token}" in text.splitlines()
    assert f'href="https://pass.example/affilies/activation?token={activation_token}"' in (
        invitation.get_body(("html",)).get_content()
    )
    raw = b"".join(p.read_bytes() for p in mailbox.directory.glob("*.eml"))
    assert f"https://pass.example/affilies/activation?token={activation_token}\r\n".encode() in raw
    otp = club_mail["Pass Hauts-de-Seine : votre code de signature de la convention"]
    assert "042917" in otp.get_body(("plain",)).get_content()
    assert "?token=R3set" in club_mail["Pass Hauts-de-Seine : choisir un nouveau mot de passe"].get_body(
        ("plain",)).get_content()
    assert "Pass Hauts-de-Seine : convention d'affiliation signée, votre espace affilié est ouvert" in club_mail
    assert f"Pass Hauts-de-Seine : rappel de vos identifiants pour la campagne {campaign.label}" in club_mail
    assert "Pass Hauts-de-Seine : remboursement de 70 € effectué" in club_mail
    (paid_other,) = await mailbox.wait_for(other_club)
    assert paid_other["Subject"] == "Pass Hauts-de-Seine : remboursement de 20 € effectué"

    for message in [*family_mail.values(), *club_mail.values()]:
        assert message.get_body(("html",)) is not None and message.get_body(("plain",)) is not None

    log = await _settled(notification, stack, club, 6)  # the mail is in before the worker records its outcome
    assert len(log) == 6
    delivered = await stack.wait_for_event(
        "notification.messages",
        lambda e: e["event_type"] == "MessageDelivered" and e["data"]["message_id"] == log[0]["message_id"],
    )
    assert delivered["data"]["attempts"] == 1


async def test_the_same_event_delivered_three_times_sends_one_message(stack, notification, mailbox, campaign):
    family = f"famille-{uuid.uuid4().hex[:6]}@example.fr"
    event = _submitted(campaign, f"app-{uuid.uuid4().hex[:8]}", family)
    event_id = uuid.uuid4()
    for _ in range(3):
        await stack.publish(event, event_id=event_id)
    # Every delivery consumed: the messages the service will ever send for them are in its log;
    # once they are all sent, the mailbox holds everything it will get.
    await stack.caught_up(notification.consumer_group, [event.topic.name])
    log = await _settled(notification, stack, family, 1)
    assert len(log) == 1
    assert len(mailbox.messages(family)) == 1


async def test_scheduled_broadcast_survives_a_restart_and_goes_out_once(stack, notification, mailbox, campaign):
    families = [f"famille-{uuid.uuid4().hex[:6]}@example.fr" for _ in range(2)]
    for i, family in enumerate(families):
        await stack.publish(_submitted(campaign, f"app-{uuid.uuid4().hex[:8]}", family))
    # the same guardian enrolling a second child is one recipient
    await stack.publish(_submitted(campaign, f"app-{uuid.uuid4().hex[:8]}", families[0].upper()))
    for family in families:
        await mailbox.wait_for(family)
    subject = f"Lancement de la campagne {uuid.uuid4().hex[:6]}"
    send_at = datetime.now(UTC) + timedelta(seconds=6)
    async with httpx.AsyncClient(base_url=notification.url) as client:
        response = await client.post(
            "/v1/broadcasts",
            json={"audience": "families", "subject": subject, "body": "Bonjour,\n\nLa campagne est ouverte.",
                  "send_at": send_at.isoformat()},
            headers=stack.auth("admin"),
        )
    assert response.status_code == 202, response.text
    broadcast_id = response.json()["broadcast_id"]
    assert response.json()["status"] == "scheduled"
    assert response.json()["recipients_known_now"] >= 2  # and any family an earlier test of the module made

    notification.stop()
    try:
        assert not [m for m in mailbox.messages() if m["Subject"] == subject]
        await asyncio.sleep(max(0.0, (send_at - datetime.now(UTC)).total_seconds()) + 1)  # its time passes, stopped
    finally:
        await asyncio.to_thread(notification.start, timeout=120)  # the module's process, for every later test

    async with httpx.AsyncClient(base_url=notification.url) as client:
        async def expanded():
            answer = await client.get(f"/v1/broadcasts/{broadcast_id}", headers=stack.auth("admin"))
            return answer.json()["status"] == "expanded"

        deadline = time.monotonic() + 60
        while not await expanded():
            assert time.monotonic() < deadline, "the broadcast was not expanded after the restart"
            await asyncio.sleep(0.2)
    # Expanded: each family's copy is in its log; once all are sent, the mailbox is final.
    for family in families:
        await _settled(notification, stack, family, 2)
        assert [m["Subject"] for m in mailbox.messages(family)].count(subject) == 1


async def test_every_message_arrives_once_after_smtp_was_down_and_5xx_fails_with_its_reason(
    stack, notification, mailbox, smtp_port
):
    mailbox.controller.stop()  # SMTP down
    mailbox.controller = None
    clubs = [_affiliate_email(str(i)) for i in range(3)]
    refused = f"club-{uuid.uuid4().hex[:6]}@refuse.example"
    for i, club in enumerate([*clubs, refused]):
        await stack.publish(ev.ConventionSigned(
            affiliate_id=f"aff-down-{i}", name=f"Club {i}", contact_email=club, convention_version="2026-1",
            document_sha256="0" * 64, signed_at=NOW,
        ))

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        log = await _messages(notification, stack, clubs[0])
        if log and log[0]["attempts"] >= 2:
            break
        await asyncio.sleep(0.3)
    assert log[0]["state"] in ("pending", "sending") and "injoignable" in (log[0]["last_error"] or "")

    flaky = Controller(FlakySmtp(mailbox.directory), hostname="127.0.0.1", port=smtp_port)
    flaky.start()  # SMTP up again, answering 451 once per message before accepting
    mailbox.controller = flaky
    for club in clubs:
        (entry,) = await _settled(notification, stack, club, 1)  # sent: nothing more will go out for it
        assert len(mailbox.messages(club)) == 1
        assert "retry" in [step["outcome"] for step in entry["log"]]
        assert any((step["detail"] or "").startswith("451") for step in entry["log"])

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        (failed,) = await _messages(notification, stack, refused)
        if failed["state"] == "failed":
            break
        await asyncio.sleep(0.3)
    assert failed["state"] == "failed"
    assert failed["last_error"].startswith("550 5.1.1") and "refuse.example" not in failed["last_error"]
    event = await stack.wait_for_event(
        "notification.messages",
        lambda e: e["event_type"] == "MessageFailed" and e["data"]["message_id"] == failed["message_id"],
    )
    assert event["data"]["reason"].startswith("550")
    assert not mailbox.messages(refused)
