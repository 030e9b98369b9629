"""The Mailer against a real SMTP server on loopback (the local capture, aiosmtpd): internationalised
addresses go with SMTPUTF8 when the server offers it, and fail for good at once when it does not."""

from __future__ import annotations

import email
import uuid
from datetime import UTC, datetime
from email import policy

import pytest

from carnet_local.processes import free_port
from carnet_local.smtp import start_capture
from notification.domain import Accepted, ConventionSigned, Impossible, Mailbox
from notification.outbound import NO_SMTPUTF8, Mailer
from notification.rendering import Branding, Renderer, build_email
from notification.settings import NotificationSettings

renderer = Renderer(Branding())


@pytest.fixture(params=[True, False], ids=["smtputf8", "ascii-only"])
def server(request, tmp_path):
    port = free_port()
    controller = start_capture(tmp_path, port, smtputf8=request.param)
    yield request.param, port, tmp_path
    controller.stop()


def _mail(recipient: str):
    return build_email(renderer.render(ConventionSigned(affiliate_name="Judo Club")), sender="ne-pas-repondre@pass.example",
                       recipient=recipient, message_id=uuid.uuid4(), sender_domain="pass.example",
                       sent_at=datetime.now(UTC))


def _received(directory) -> list[email.message.EmailMessage]:
    return [email.message_from_bytes(p.read_bytes(), policy=policy.default) for p in sorted(directory.glob("*.eml"))]


async def test_an_accented_local_part_is_delivered_with_smtputf8_or_fails_for_good_once(server):
    offers_smtputf8, port, directory = server
    mailer = Mailer(NotificationSettings(CARNET_SEAL_KEY="k" * 40, CARNET_SMTP_PORT=port))
    outcome = await mailer.send(_mail("élodie.durand@example.fr"), "élodie.durand@example.fr")
    if offers_smtputf8:
        assert outcome == Accepted()
        (received,) = _received(directory)
        assert received["To"] == "élodie.durand@example.fr"
        assert "élodie.durand@example.fr".encode() in next(directory.glob("*.eml")).read_bytes()
    else:
        assert outcome == Impossible(NO_SMTPUTF8) and _received(directory) == []


async def test_an_ascii_address_never_needs_smtputf8(server):
    _, port, directory = server
    mailer = Mailer(NotificationSettings(CARNET_SEAL_KEY="k" * 40, CARNET_SMTP_PORT=port))
    assert await mailer.send(_mail("lea@example.fr"), "lea@example.fr") == Accepted()
    (received,) = _received(directory)
    assert received["To"] == "lea@example.fr"


def test_an_internationalised_domain_travels_in_its_ascii_form_and_needs_no_smtputf8():
    mailbox = Mailbox.of("lea@exämple.fr")
    assert mailbox.address == "lea@xn--exmple-cua.fr" and not mailbox.needs_smtputf8
    assert Mailbox.of("élodie.durand@example.fr").needs_smtputf8
