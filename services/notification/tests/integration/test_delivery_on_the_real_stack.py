"""The notification service as a process, on the session's real Kafka and PostgreSQL, sending to a
real SMTP server (aiosmtpd) on loopback. The wallet's ticket sheet comes from a small HTTP stand-in
that checks the service token like the wallet does (and is unavailable once when a test asks).

The module's process has its own database and consumer group; each test has its own SMTP capture and
its own campaign dated from today (conftest): any test runs alone, in any order, in any year."""

from __future__ import annotations

import asyncio
import email
import io
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from aiosmtpd.controller import Controller
from pypdf import PdfReader

from carnet_contracts import events as ev
from carnet_contracts.sealing import seal
from carnet_local.smtp import MailFolder

from .support import Campaign, log_of, settled

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)


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


def _guardian(email_address: str) -> ev.GuardianContact:
    return ev.GuardianContact(last_name="Martin", first_name="Léa", email=email_address)


def _student() -> ev.Pupil:
    return ev.Pupil(last_name="Martin", first_name="Noé", level="5e")


def _submitted(campaign: Campaign, application_id: str, guardian_email: str) -> ev.ApplicationSubmitted:
    return ev.ApplicationSubmitted(
        application_id=application_id, campaign_id=campaign.campaign_id, school_id="0920001A", student=_student(),
        guardian=_guardian(guardian_email), submitted_at=NOW,
    )


def _affiliate_email(tag: str) -> str:
    return f"club-{tag}-{uuid.uuid4().hex[:6]}@example.org"


async def _eventually(check, what: str, timeout: float = 30.0):
    """`check()`'s answer once it is truthy (polled; a wait for something to happen, never for nothing)."""
    deadline = time.monotonic() + timeout
    while True:
        answer = await check()
        if answer:
            return answer
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {timeout} s")
        await asyncio.sleep(0.2)


async def test_each_template_arrives_to_its_recipient_with_its_subject_and_attachment(
    stack, notification, mailbox, wallet, campaign
):
    seal_key = stack.secrets["CARNET_SEAL_KEY"]
    family = f"famille-{uuid.uuid4().hex[:6]}@example.fr"
    rejected_family = f"famille-{uuid.uuid4().hex[:6]}@example.fr"
    club = _affiliate_email("a")
    other_club = _affiliate_email("b")
    application_id, wallet_id = f"app-{uuid.uuid4().hex[:8]}", f"wal-{uuid.uuid4().hex[:8]}"
    activation_token = "Act1vation_Token-" + uuid.uuid4().hex
    wallet.unavailable_once(wallet_id)  # the wallet restarting when the sheet is first asked for

    await stack.publish(_submitted(campaign, application_id, family))
    # WalletCreated before PassGranted: the family is told once both are in, whatever the order
    await stack.publish(ev.WalletCreated(
        wallet_id=wallet_id, application_id=application_id, campaign_id=campaign.campaign_id, ticket_count=7,
        allowance_cents=7000, valid_until=campaign.pass_valid_until, student_first_name="Noé",
        guardian_email=family,
        created_at=NOW,
    ))
    await stack.publish(ev.PassGranted(
        application_id=application_id, campaign_id=campaign.campaign_id, campaign_label=campaign.label,
        school_id="0920001A", student=_student(), guardian=_guardian(family), allowance_cents=7000,
        tickets_per_pass=7, ticket_min_cents=500, ticket_max_cents=7000,
        pass_valid_until=campaign.pass_valid_until, validated_at=NOW,
    ))
    request_id = str(uuid.uuid4())
    await stack.publish(ev.TicketsEmailRequested(
        request_id=request_id, wallet_id=wallet_id, campaign_id=campaign.campaign_id, positions=[3, 1],
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
    # version 1 of the batch paid, still on the topic when the service was upgraded
    await stack.publish(ev.ReimbursementBatchPaidV1(
        batch_id=f"batch-{uuid.uuid4().hex[:6]}", campaign_id=campaign.campaign_id, redemption_ids=["r1", "r2", "r3"],
        total_cents=9000,
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
    assert f"Feuille {request_id}" in pdf.pages[0].extract_text()  # the snapshot taken when asked
    answers = wallet.answers_for(wallet_id)
    assert answers[0][1] == 503  # the wallet was restarting: the worker tried again
    assert [parse_qs(urlsplit(path).query) for path, status in answers if status == 200] == [
        {"request_id": [request_id]}
    ]
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

    log = await settled(notification, stack, club, 6)  # the mail is in before the worker records its outcome
    assert len(log) == 6 and len(mailbox.messages(club)) == 6
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
    # Every delivery consumed: the messages the service will ever make of them are in its log; once
    # they are all sent, the mailbox holds everything it will get.
    await stack.caught_up(notification.consumer_group, [event.topic.name])
    log = await settled(notification, stack, family, 1)
    assert len(log) == 1
    assert len(mailbox.messages(family)) == 1


async def test_scheduled_broadcast_survives_a_restart_and_goes_out_once(stack, notification, mailbox, campaign):
    families = [f"famille-{uuid.uuid4().hex[:6]}@example.fr" for _ in range(2)]
    for family in families:
        await stack.publish(_submitted(campaign, f"app-{uuid.uuid4().hex[:8]}", family))
    # the same guardian enrolling a second child is one recipient
    await stack.publish(_submitted(campaign, f"app-{uuid.uuid4().hex[:8]}", families[0].upper()))
    await stack.caught_up(notification.consumer_group, [ev.ApplicationSubmitted.topic.name])  # families known
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

    await asyncio.to_thread(notification.stop)
    try:
        assert not [m for m in mailbox.messages() if m["Subject"] == subject]
        await asyncio.sleep(max(0.0, (send_at - datetime.now(UTC)).total_seconds()) + 1)  # its time passes, stopped
    finally:
        await asyncio.to_thread(notification.start, timeout=120)  # the module's process, for every later test

    async with httpx.AsyncClient(base_url=notification.url) as client:
        async def gone_out() -> dict | None:
            state = (await client.get(f"/v1/broadcasts/{broadcast_id}", headers=stack.auth("admin"))).json()
            final = state["status"] == "expanded" and state["messages_by_state"] == {"sent": state["recipient_count"]}
            return state if final else None

        # expanded once (its messages made in that transaction) and every one of them sent: final
        state = await _eventually(gone_out, "the broadcast was not expanded and sent after the restart", 60)
    sent = [m["To"].lower() for m in mailbox.messages() if m["Subject"] == subject]
    assert len(sent) == state["recipient_count"]
    for family in families:
        assert sent.count(family) == 1
        await settled(notification, stack, family, 2)


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

    async def tried_twice() -> dict | None:
        log = await log_of(notification, stack, clubs[0])
        return log[0] if log and log[0]["attempts"] >= 2 else None

    first = await _eventually(tried_twice, f"no second attempt for {clubs[0]}")
    assert first["state"] in ("pending", "sending") and "injoignable" in (first["last_error"] or "")

    flaky = Controller(FlakySmtp(mailbox.directory), hostname="127.0.0.1", port=smtp_port)
    flaky.start()  # SMTP up again, answering 451 once per message before accepting
    mailbox.controller = flaky
    for club in clubs:
        (entry,) = await settled(notification, stack, club, 1)  # sent: nothing more will go out for it
        assert len(mailbox.messages(club)) == 1
        assert "retry" in [step["outcome"] for step in entry["log"]]
        assert any((step["detail"] or "").startswith("451") for step in entry["log"])

    (failed,) = await settled(notification, stack, refused, 1, state="failed")
    assert failed["last_error"].startswith("550 5.1.1") and "refuse.example" not in failed["last_error"]
    event = await stack.wait_for_event(
        "notification.messages",
        lambda e: e["event_type"] == "MessageFailed" and e["data"]["message_id"] == failed["message_id"],
    )
    assert event["data"]["reason"].startswith("550")
    assert not mailbox.messages(refused)
