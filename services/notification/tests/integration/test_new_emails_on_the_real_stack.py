"""Wave B's e-mails (issues 14 and 15) end to end: the events the other services publish are published
here on the session's real Kafka, the notification service runs as a process on its own database, and
each e-mail is read from a real SMTP server (the local capture, which offers SMTPUTF8), with the facts
it must say. Each test has its own capture and its own campaign dated from today (conftest); "told once"
and "tells no one" are read after the service's consumer group caught up and the messages are final."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from pypdf import PdfReader

from carnet_contracts import events as ev
from carnet_contracts.sealing import seal
from carnet_local.testing import poll_database

from .support import (
    Campaign,
    html_of,
    iso_week,
    log_of,
    long_date,
    paris_time,
    paris_today,
    settled,
    short_date,
    text_of,
)

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)


def _id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _database(notification) -> str:
    return notification.env["CARNET_NOTIFICATION_DATABASE_URL"]


async def _wallet_known(stack, notification, campaign: Campaign, *, family: str, first_name: str = "Noé") -> str:
    """A wallet the service has learned (WalletCreated applied): its id."""
    wallet_id = _id("wal")
    await stack.publish(ev.WalletCreated(
        wallet_id=wallet_id, application_id=_id("app"), campaign_id=campaign.campaign_id, family_sub=_id("family"),
        ticket_count=7, allowance_cents=7000, valid_until=campaign.pass_valid_until, student_first_name=first_name,
        guardian_email=family, created_at=NOW,
    ))
    await poll_database(_database(notification), "SELECT count(*) FROM wallets WHERE wallet_id = $1", wallet_id)
    return wallet_id


async def _affiliate_known(stack, notification, mailbox, *, name: str = "Judo Club") -> tuple[str, str]:
    """An organisation whose name and contact the service has learned: (affiliate_id, contact)."""
    affiliate_id, contact = _id("aff"), f"{_id('club')}@example.org"
    await stack.publish(ev.AffiliateActivated(affiliate_id=affiliate_id, name=name, activity="sport",
                                              city="Nanterre", postcode="92000", activated_at=NOW))
    await stack.publish(ev.ConventionSigned(affiliate_id=affiliate_id, name=name, contact_email=contact,
                                            convention_version="2026-1", document_sha256="0" * 64, signed_at=NOW))
    await mailbox.one(contact, "convention d'affiliation signée")
    await poll_database(_database(notification),
                        "SELECT count(*) FROM affiliates WHERE affiliate_id = $1 AND name IS NOT NULL", affiliate_id)
    return affiliate_id, contact


async def test_an_accented_address_is_delivered_to_the_capture_as_written(stack, notification, mailbox, campaign):
    address = "élodie.durand@example.fr"
    await stack.publish(ev.ApplicationSubmitted(
        application_id=_id("app"), campaign_id=campaign.campaign_id, school_id="0920001A", family_sub=_id("family"),
        student=ev.Pupil(last_name="Durand", first_name="Inès", level="6e"),
        guardian=ev.GuardianContact(last_name="Durand", first_name="Élodie", email=address), submitted_at=NOW,
    ))
    mail = await mailbox.one(address, "inscription de Inès Durand bien reçue")
    assert "Élodie Durand" in text_of(mail)
    raw = b"".join(p.read_bytes() for p in mailbox.directory.glob("*.eml"))
    assert f"To: {address}".encode() in raw  # the header as sent, in UTF-8 (SMTPUTF8)


async def test_the_weekly_digest_lists_the_waiting_files_oldest_first_with_their_age(
    stack, notification, mailbox, campaign
):
    correspondent = f"{_id('principal')}@college.fr"
    monday = paris_today() - timedelta(days=paris_today().weekday() + 7)
    due = paris_time(monday, 8, 0)  # last week's Monday, 8 h in Paris
    files = [
        ev.WaitingFile(application_id=_id("app"), student_last_name="Petit", student_first_name="Jules",
                       submitted_at=due - timedelta(days=3)),
        ev.WaitingFile(application_id=_id("app"), student_last_name="Durand", student_first_name="Inès",
                       channel="paper", submitted_at=due - timedelta(days=12)),
    ]
    await stack.publish(ev.CorrespondentDigestDue(
        digest_id=_id("digest"), school_id="0920001A", school_name="Collège Paul Éluard",
        correspondent_email=correspondent, week=iso_week(monday), waiting=files, total_waiting=2,
        oldest_submitted_at=files[1].submitted_at, due_at=due,
    ), campaign_id=campaign.campaign_id)
    mail = await mailbox.one(correspondent, "2 inscriptions attendent votre validation")
    text = text_of(mail)
    assert "Collège Paul Éluard" in mail["Subject"]
    assert text.index("Durand Inès") < text.index("Petit Jules")
    assert f"reçue le {short_date(monday - timedelta(days=12))}, en attente depuis 12 jours (bulletin papier)" in text
    assert f"reçue le {short_date(monday - timedelta(days=3))}, en attente depuis 3 jours" in text
    assert "une fois par semaine" in text


async def test_a_ticket_used_is_told_to_the_family_once_per_redemption(stack, notification, mailbox, campaign):
    family = f"{_id('famille')}@example.fr"
    affiliate_id, _ = await _affiliate_known(stack, notification, mailbox, name="Théâtre des Amandiers")
    wallet_id = await _wallet_known(stack, notification, campaign, family=family, first_name="Noé")
    ticket_id, redemption_id = _id("tic"), _id("red")
    yesterday = paris_today() - timedelta(days=1)
    used = ev.TicketRedeemed(redemption_id=redemption_id, ticket_id=ticket_id, wallet_id=wallet_id,
                             campaign_id=campaign.campaign_id, affiliate_id=affiliate_id, amount_cents=1250,
                             code_suffix="7K2Q", redeemed_at=paris_time(yesterday, 14, 5))
    await stack.publish(used)
    await stack.publish(used)  # the same redemption published again, under another event id
    await stack.publish(used.model_copy(update={"redemption_id": _id("red"), "amount_cents": 500}))  # another one
    # every delivery consumed and every message it made final: the mailbox holds all it will get
    await stack.caught_up(notification.consumer_group, [ev.TicketRedeemed.topic.name])
    log = await settled(notification, stack, family, 2)
    assert [m["template"] for m in log] == ["ticket_redeemed", "ticket_redeemed"]
    await mailbox.one(family, "un ticket de 5 € a été utilisé")
    first = await mailbox.one(family, "un ticket de 12,50 € a été utilisé chez Théâtre des Amandiers")
    text = text_of(first)
    assert "Théâtre des Amandiers" in text and "12,50\u00a0€" in text and f"{short_date(yesterday)} à 14 h 05" in text
    assert "Noé" in text and "7K2Q" in text
    assert len(mailbox.messages(family)) == 2


async def test_the_expiry_reminder_says_what_is_left_and_until_when(stack, notification, mailbox, campaign):
    family = f"{_id('famille')}@example.fr"
    await stack.publish(ev.PassExpiryReminderDue(
        wallet_id=_id("wal"), campaign_id=campaign.campaign_id, guardian_email=family, student_first_name="Noé",
        valid_until=campaign.pass_valid_until, credited_unspent_cents=2000, remaining_cents=1500, due_at=NOW,
    ))
    until = short_date(campaign.pass_valid_until)
    mail = await mailbox.one(family, f"il reste 35 € sur le Pass de Noé, valable jusqu'au {until}")
    text = text_of(mail)
    assert "20\u00a0€ sur des tickets crédités" in text and "15\u00a0€ qui ne sont sur aucun ticket" in text


async def test_the_new_sheet_after_a_replacement_is_attached_and_says_the_old_ticket_no_longer_works(
    stack, notification, mailbox, wallet, campaign
):
    family = f"{_id('famille')}@example.fr"
    wallet_id, request_id = _id("wal"), str(uuid.uuid4())
    await stack.publish(ev.TicketsEmailRequested(
        request_id=request_id, wallet_id=wallet_id, campaign_id=campaign.campaign_id, positions=[4], guardian_email=family,
        student_first_name="Noé", requested_at=NOW, reason="replaced",
    ))
    mail = await mailbox.one(family, "votre nouveau ticket en pièce jointe")
    assert "déclaré perdu ou volé" in text_of(mail) and "L'ancien ticket ne fonctionne plus" in text_of(mail)
    (attachment,) = list(mail.iter_attachments())
    assert f"Feuille {request_id}" in PdfReader(io.BytesIO(attachment.get_content())).pages[0].extract_text()


async def test_a_sheet_the_wallet_refuses_fails_for_good_with_message_failed(
    stack, notification, mailbox, wallet, campaign
):
    family = f"{_id('famille')}@example.fr"
    await stack.publish(ev.TicketsEmailRequested(
        request_id=f"refused-{uuid.uuid4()}", wallet_id=_id("wal"), campaign_id=campaign.campaign_id, positions=[2],
        guardian_email=family, student_first_name="Noé", requested_at=NOW,
    ))
    failed = await stack.wait_for_event(
        "notification.messages",
        lambda e: e["event_type"] == "MessageFailed" and e["data"]["template"] == "tickets_sheet"
        and "409" in e["data"]["reason"],
        timeout=45,
    )
    (logged,) = await log_of(notification, stack, family)
    assert logged["message_id"] == failed["data"]["message_id"] and logged["state"] == "failed"
    assert [step["outcome"] for step in logged["log"]][-1] == "failed" and "409" in logged["last_error"]
    assert mailbox.messages(family) == []


async def test_a_replacement_refused_tells_the_family_the_ticket_had_been_used(
    stack, notification, mailbox, campaign
):
    family = f"{_id('famille')}@example.fr"
    affiliate_id, _ = await _affiliate_known(stack, notification, mailbox, name="Piscine de Nanterre")
    wallet_id = await _wallet_known(stack, notification, campaign, family=family)
    used_on = paris_today() - timedelta(days=1)
    await stack.publish(ev.TicketReplaceRefused(
        ticket_id=_id("tic"), wallet_id=wallet_id, campaign_id=campaign.campaign_id,
        reason_code="TICKET_ALREADY_REDEEMED", reason="Ce ticket a déjà été utilisé.",
        redeemed_at=paris_time(used_on, 14, 5), affiliate_id=affiliate_id,
    ))
    mail = await mailbox.one(family, "le ticket déclaré perdu n'a pas pu être remplacé")
    text = text_of(mail)
    assert f"déjà été utilisé chez Piscine de Nanterre le {short_date(used_on)} à 14 h 05" in text


async def test_a_late_cancellation_by_staff_tells_the_organisation_and_its_own_cancellation_does_not(
    stack, notification, mailbox, campaign
):
    affiliate_id, contact = await _affiliate_known(stack, notification, mailbox)
    yesterday = paris_today() - timedelta(days=1)
    cancelled = ev.RedemptionCancelled(
        redemption_id=_id("red"), ticket_id=_id("tic"), wallet_id=_id("wal"), campaign_id=campaign.campaign_id,
        affiliate_id=affiliate_id, amount_cents=3000, cancelled_at=paris_time(yesterday, 10, 0),
    )
    await stack.publish(cancelled)  # the organisation's own, within its grace period
    await stack.publish(cancelled.model_copy(update={
        "redemption_id": _id("red"), "cancelled_by_role": "admin", "reason": "Ticket accepté par erreur",
        "then": "void",
    }))
    # both consumed and every message they made final: the organisation's own made none
    await stack.caught_up(notification.consumer_group, [ev.RedemptionCancelled.topic.name])
    log = await settled(notification, stack, contact, 2)
    assert sorted(m["template"] for m in log) == ["convention_signed", "redemption_cancelled"]
    mail = await mailbox.one(contact, "le Département a annulé un ticket de 30 € accepté par Judo Club")
    text = text_of(mail)
    assert "« Ticket accepté par erreur »" in text and "il ne peut plus être utilisé" in text
    assert f"{short_date(yesterday)} à 10 h 00" in text
    assert len([m for m in mailbox.messages(contact) if "annulé" in m["Subject"]]) == 1


async def test_organisations_are_told_of_contact_and_iban_changes_and_of_their_transfers(
    stack, notification, mailbox, campaign
):
    seal_key = stack.secrets["CARNET_SEAL_KEY"]
    affiliate_id, old = await _affiliate_known(stack, notification, mailbox)
    new = f"{_id('tresorier')}@example.org"
    await stack.publish(ev.AffiliateContactChanged(affiliate_id=affiliate_id, name="Judo Club", old_contact_email=old,
                                                   new_contact_email=new, changed_at=NOW))
    told = await mailbox.one(old, "l'adresse de contact de votre organisme a changé")
    assert new in text_of(told) and "Numéro Vert" in text_of(told)

    await stack.publish(ev.IbanChangeOtpIssued(affiliate_id=affiliate_id, name="Judo Club", contact_email=new,
                                               sealed_otp=seal("318274", seal_key), new_iban_suffix="4321",
                                               expires_at=NOW + timedelta(minutes=15)))
    code = await mailbox.one(new, "votre code pour confirmer le changement d'IBAN")
    assert "318274" in text_of(code) and "318274" in html_of(code) and "4321" in text_of(code)
    await stack.publish(ev.AffiliateIbanChanged(affiliate_id=affiliate_id, name="Judo Club", contact_email=new,
                                                iban_suffix="4321", changed_at=NOW))
    changed = await mailbox.one(new, "nouvel IBAN enregistré")
    assert "4321" in text_of(changed) and "prochain lot de remboursement" in text_of(changed)

    paid_on = paris_today() - timedelta(days=1)
    await stack.publish(ev.ReimbursementTransferSent(
        affiliate_id=affiliate_id, name="Judo Club", contact_email=new, batch_id=_id("batch"),
        campaign_id=campaign.campaign_id, amount_cents=12050, count=3, paid_at=paris_time(paid_on, 11, 0),
    ))
    paid = await mailbox.one(new, "remboursement de 120,50 € effectué")
    assert long_date(paid_on) in text_of(paid) and "tickets remboursés : 3" in text_of(paid)
    (logged,) = [m for m in await log_of(notification, stack, new) if m["template"] == "iban_change_otp"]
    assert "[code retiré]" in logged["body"] and "318274" not in logged["body"]


async def test_a_version_1_notice_still_on_the_old_topic_is_delivered(stack, notification, mailbox):
    contact = f"{_id('club')}@example.org"
    await stack.publish(ev.ConventionSignedV1(
        affiliate_id=_id("aff"), name="Club d'échecs", contact_email=contact, convention_version="2025-1",
        document_sha256="0" * 64, signed_at=NOW,
    ))
    mail = await mailbox.one(contact, "convention d'affiliation signée")
    assert "Club d'échecs" in text_of(mail)
