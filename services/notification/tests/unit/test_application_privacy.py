"""A campaign's purge, a family's erasure and a person's export, on the in-memory unit of work."""

from __future__ import annotations

from datetime import timedelta

import pytest

from carnet_contracts import events as ev
from carnet_runtime import Refusal
from carnet_runtime.auth import Principal
from notification.application import privacy
from notification.application.broadcasts import ScheduleBroadcast, schedule_broadcast
from notification.application.delivery import DeliveryWorker
from notification.domain import MASK, MessageState, Reader, Template
from notification.settings import NotificationSettings

from . import handling as h
from .fakes import FakeMailer, FakeNotificationUnitOfWork, FakeSheets

OTHER = "2025-2026"
ADMIN = Principal(sub="admin-1", role="admin")


async def season(uow: FakeNotificationUnitOfWork) -> None:
    """Two families of the campaign (Léa's Noé, Marc's Jules), one of the campaign before, a digest
    naming both pupils, a ticket used, a broadcast to every family."""
    await h.handle(uow, h.campaign_published())
    await h.handle(uow, h.campaign_published(OTHER))
    await h.handle(uow, h.activated())
    await h.handle(uow, h.submitted("app-1"))
    await h.handle(uow, h.granted("app-1"))
    await h.handle(uow, h.created("app-1"))
    await h.handle(uow, h.submitted("app-2", email="marc@example.fr", family_sub="family-marc", first_name="Jules"))
    await h.handle(uow, h.submitted("app-0", email="old@example.fr", family_sub="family-old", campaign_id=OTHER,
                                first_name="Zoé"))
    await h.handle(uow, h.redeemed())
    await h.handle(uow, ev.CorrespondentDigestDue(
        digest_id="dig-1", school_id="0920001A", school_name="Collège Paul Éluard",
        correspondent_email="principal@college.fr", week="2026-W48", total_waiting=1,
        oldest_submitted_at=h.NOW, due_at=h.NOW, waiting=[ev.WaitingFile(
            application_id="app-2", student_last_name="Martin", student_first_name="Jules", submitted_at=h.NOW)],
    ))
    await schedule_broadcast(uow, ScheduleBroadcast(audience="families", subject="Lancement", body="Bonjour",
                                                    send_at=None, requested_by="admin-1"), h.NOW)
    settings = NotificationSettings(CARNET_SEAL_KEY=h.KEY)
    await DeliveryWorker(uow, settings, h.renderer, FakeMailer(), FakeSheets(), lambda s: s, clock=lambda: h.NOW).work()


def purged_event(campaign_id: str = h.CAMPAIGN) -> ev.CampaignPurgeStarted:
    return ev.CampaignPurgeStarted(campaign_id=campaign_id, purge_id="purge-1", purge_before=h.NOW, announced_at=h.NOW)


async def test_the_purge_erases_the_campaigns_personal_data_and_keeps_the_delivery_figures():
    uow = FakeNotificationUnitOfWork()
    await season(uow)
    before = await privacy.figures(uow, h.CAMPAIGN)
    assert before.messages >= 5 and before.by_state == {"sent": before.messages}

    await privacy.purge_campaign(uow, purged_event(), h.NOW)

    assert await privacy.figures(uow, h.CAMPAIGN) == before
    of_campaign = [m for m in uow.messages.all() if m.campaign_id == h.CAMPAIGN]
    assert of_campaign and all(m.recipient is None and m.text is None and m.html is None for m in of_campaign)
    kept = {m.template: m.subject for m in of_campaign}
    assert kept[Template.APPLICATION_RECEIVED] == f"Pass Hauts-de-Seine : inscription de {MASK} {MASK} bien reçue"
    assert kept[Template.TICKET_REDEEMED] == "Pass Hauts-de-Seine : un ticket de 10 € a été utilisé chez Judo Club"
    everything = repr([(m.recipient, m.subject, m.text, m.html, m.about) for m in of_campaign])
    for personal in ("lea@example.fr", "marc@example.fr", "Noé", "Jules", "Martin", "family-lea", "wal-1"):
        assert personal not in everything
    # the campaign's copies of guardians' addresses are gone, the other campaign's stay
    assert set(uow.people.families) == {"app-0"} and uow.people.wallets == {} and uow.readiness.rows == {}
    (older,) = [m for m in uow.messages.all() if m.campaign_id == OTHER]
    assert older.recipient == "old@example.fr"


async def test_an_erasure_anonymises_every_message_about_the_family_and_leaves_the_others():
    uow = FakeNotificationUnitOfWork()
    await season(uow)
    await privacy.erase(uow, ev.GuardianErasureRequested(
        erasure_id="era-1", application_ids=["app-1"], wallet_ids=["wal-1"], family_subs=["family-lea"],
        campaign_ids=[h.CAMPAIGN], requested_at=h.NOW,
    ), h.NOW)

    left = repr([(m.recipient, m.subject, m.text, m.about) for m in uow.messages.all()])
    for personal in ("lea@example.fr", "Noé", "family-lea", "wal-1", "app-1"):
        assert personal not in left
    # the broadcast to every family, sent to Léa's address, is hers too
    assert not [m for m in uow.messages.all() if m.template is Template.BROADCAST and m.recipient == "lea@example.fr"]
    assert [m.recipient for m in uow.messages.all() if m.template is Template.BROADCAST].count(None) == 1
    assert "marc@example.fr" in left and "Jules" in left
    assert "app-1" not in uow.people.families and "wal-1" not in uow.people.wallets


async def test_a_message_not_yet_sent_when_its_family_is_erased_fails_and_is_never_sent():
    uow, mailer = FakeNotificationUnitOfWork(), FakeMailer()
    await h.handle(uow, h.submitted("app-1"))
    await privacy.erase(uow, ev.GuardianErasureRequested(
        erasure_id="era-1", application_ids=["app-1"], wallet_ids=[], family_subs=[], campaign_ids=[],
        requested_at=h.NOW,
    ), h.NOW)
    await DeliveryWorker(uow, NotificationSettings(CARNET_SEAL_KEY=h.KEY), h.renderer, mailer, FakeSheets(),
                         lambda s: s, clock=lambda: h.NOW + timedelta(seconds=5)).work()
    (erased,) = uow.messages.all()
    assert erased.delivery.state is MessageState.FAILED and mailer.sent == [] and erased.recipient is None


async def test_a_familys_export_holds_its_messages_and_what_is_written_about_it_to_others_without_bodies():
    uow = FakeNotificationUnitOfWork()
    await season(uow)
    export = await privacy.export(uow, Principal(sub="family-marc", role="family"), "lea@example.fr", h.NOW)
    assert export.family_sub == "family-marc" and export.email is None  # a family cannot choose whom
    by_template = {m.message.template: m for m in export.messages}
    received = by_template[Template.APPLICATION_RECEIVED]
    assert received.to_them and received.recipient == "marc@example.fr" and "Jules" in received.body
    digest = by_template[Template.CORRESPONDENT_DIGEST]
    assert not digest.to_them and digest.written_to is Reader.CORRESPONDENT
    assert digest.recipient is None and digest.body is None and "attend votre validation" in digest.subject
    assert by_template[Template.BROADCAST].to_them
    everything = repr(export)
    for other_family in ("lea@example.fr", "Noé", "old@example.fr", "family-lea"):
        assert other_family not in everything
    assert [c.id for c in export.copies] == ["app-2"]


async def test_the_admin_exports_by_address_and_must_give_one():
    uow = FakeNotificationUnitOfWork()
    await season(uow)
    export = await privacy.export(uow, ADMIN, " Lea@Example.fr ", h.NOW)
    assert export.email == "lea@example.fr"
    templates = {m.message.template for m in export.messages}
    assert {Template.APPLICATION_RECEIVED, Template.WALLET_READY, Template.TICKET_REDEEMED,
            Template.BROADCAST} <= templates
    assert {(c.kind, c.id) for c in export.copies} == {("application", "app-1"), ("wallet", "wal-1")}
    assert "marc@example.fr" not in repr(export)
    with pytest.raises(Refusal) as missing:
        await privacy.export(uow, ADMIN, None, h.NOW)
    assert missing.value.code == "VALIDATION_ERROR" and missing.value.details["fields"][0]["field"] == "email"
    with pytest.raises(Refusal) as malformed:
        await privacy.export(uow, ADMIN, "pas-une-adresse", h.NOW)
    assert malformed.value.code == "INVALID_RECIPIENT" and malformed.value.details["fields"][0]["field"] == "email"
