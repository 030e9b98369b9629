"""The use cases of the events consumed, on an in-memory unit of work."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest

from carnet_contracts import events as ev
from carnet_contracts.sealing import InvalidToken, seal, unseal
from carnet_runtime import Refusal
from notification.domain import About, Audience, SecretKind, Template, forget_at

from .fakes import FakeNotificationUnitOfWork
from .handling import (
    CAMPAIGN,
    KEY,
    NOW,
    activated,
    campaign_published,
    created,
    granted,
    guardian,
    handle,
    redeemed,
    submitted,
)


def invited(token: str, email: str = "Club@Example.org") -> ev.AffiliateInvited:
    return ev.AffiliateInvited(
        affiliate_id="aff-1", name="Judo Club", login="judo-club", contact_email=email,
        sealed_activation_token=seal(token, KEY), activation_expires_at=NOW + timedelta(days=7),
    )


async def test_an_invitation_is_queued_with_its_token_sealed_and_a_placeholder_where_the_link_goes():
    uow = FakeNotificationUnitOfWork()
    event = invited("Act1vation_Token-42")
    await handle(uow, event)
    (message,) = uow.messages.all()
    assert message.template is Template.AFFILIATE_INVITATION and message.recipient == "club@example.org"
    assert message.secret.kind is SecretKind.LINK and message.secret.sealed == event.sealed_activation_token
    assert message.secret.link_base == "https://pass.example/activation"
    for part in (message.text, message.html):
        assert "[lien retiré]" in part and "Act1vation_Token-42" not in part and "?token=" not in part
    assert uow.published == []


async def test_a_one_time_code_and_a_reset_token_are_kept_sealed_and_out_of_the_body():
    uow = FakeNotificationUnitOfWork()
    await handle(uow, ev.ConventionOtpIssued(
        affiliate_id="aff-1", name="Judo Club", contact_email="club@example.org", sealed_otp=seal("042917", KEY),
        expires_at=NOW + timedelta(minutes=10),
    ))
    await handle(uow, ev.PasswordResetRequested(
        affiliate_id="aff-1", login="judo-club", contact_email="club@example.org",
        sealed_reset_token=seal("R3set", KEY), expires_at=NOW + timedelta(hours=1),
    ))
    by_template = {m.template: m for m in uow.messages.all()}
    otp, reset = by_template[Template.CONVENTION_OTP], by_template[Template.PASSWORD_RESET]
    assert unseal(otp.secret.sealed, KEY) == "042917" and "[code retiré]" in otp.text and "042917" not in otp.html
    assert unseal(reset.secret.sealed, KEY) == "R3set" and "[lien retiré]" in reset.text and "R3set" not in reset.text


async def test_a_token_that_does_not_unseal_refuses_the_event_and_queues_nothing():
    uow = FakeNotificationUnitOfWork()
    event = invited("whatever").model_copy(update={"sealed_activation_token": seal("whatever", "another-key" * 4)})
    with pytest.raises(InvalidToken):
        await handle(uow, event)
    assert uow.messages.all() == [] and uow.people.affiliates == {}


async def test_a_token_that_cannot_end_a_link_is_refused_with_its_code():
    with pytest.raises(Refusal) as refused:
        await handle(FakeNotificationUnitOfWork(), invited("a b&c"))
    assert refused.value.code == "TOKEN_NOT_LINKABLE"


@pytest.mark.parametrize("wallet_first", [True, False])
async def test_the_family_is_told_its_wallet_is_ready_once_both_halves_are_in_whatever_their_order(wallet_first):
    uow = FakeNotificationUnitOfWork()
    halves = [created("app-1"), granted("app-1")]
    wallet_event_id = uuid.uuid4()
    for event in halves if wallet_first else halves[::-1]:
        assert not [m for m in uow.messages.all() if m.template is Template.WALLET_READY]
        await handle(uow, event, **({"event_id": wallet_event_id} if isinstance(event, ev.WalletCreated) else {}))
    (ready,) = [m for m in uow.messages.all() if m.template is Template.WALLET_READY]
    assert ready.recipient == "lea@example.fr" and "70\u00a0€" in ready.text
    assert uow.messages.rows[ready.message_id].event_id == wallet_event_id


async def test_the_same_event_handled_twice_queues_one_message():
    uow = FakeNotificationUnitOfWork()
    event, event_id = invited("T0ken"), uuid.uuid4()
    await handle(uow, event, event_id=event_id)
    await handle(uow, event, event_id=event_id)
    assert len(uow.messages.all()) == 1


async def test_a_version_1_reimbursement_batch_still_on_the_topic_tells_each_affiliate_its_own_amount_once():
    uow = FakeNotificationUnitOfWork()
    event = ev.ReimbursementBatchPaidV1(
        batch_id="batch-1", campaign_id="2026-2027", redemption_ids=["r1", "r2", "r3"], total_cents=9000,
        paid_at=NOW, transfers=[
            ev.ReimbursementTransfer(affiliate_id="aff-a", name="Judo", contact_email="a@example.org",
                                     amount_cents=7000, count=2),
            ev.ReimbursementTransfer(affiliate_id="aff-b", name="Théâtre", contact_email="b@example.org",
                                     amount_cents=2000, count=1),
        ],
    )
    event_id = uuid.uuid4()
    await handle(uow, event, event_id=event_id)
    await handle(uow, event, event_id=event_id)
    subjects = {m.recipient: m.subject for m in uow.messages.all()}
    assert subjects == {"a@example.org": "Pass Hauts-de-Seine : remboursement de 70 € effectué",
                        "b@example.org": "Pass Hauts-de-Seine : remboursement de 20 € effectué"}


async def test_a_campaign_published_after_its_messages_moves_their_forgetting_to_its_end():
    uow = FakeNotificationUnitOfWork()
    await handle(uow, ev.ApplicationRejected(
        application_id="app-1", campaign_id="2026-2027", school_id="0920001A", student_first_name="Jules",
        guardian=guardian(), reason="Inconnu", rejected_at=NOW,
    ))
    (row,) = uow.messages.rows.values()
    assert row.forget_at == NOW + timedelta(days=400)  # no campaign known yet
    await handle(uow, campaign_published())
    assert row.forget_at == forget_at(date(2027, 4, 30), NOW, 60, 400)


async def test_a_suspended_affiliate_leaves_the_affiliates_audience_and_comes_back_when_activated():
    uow = FakeNotificationUnitOfWork()
    await handle(uow, invited("T0ken"))
    suspended = ev.AffiliateSuspended(affiliate_id="aff-1", suspended_at=NOW)
    await handle(uow, suspended)
    assert await uow.people.audience(Audience.AFFILIATES) == []
    await handle(uow, ev.AffiliateActivated(affiliate_id="aff-1", name="Judo Club", activity="judo",
                                            city="Nanterre", postcode="92000", activated_at=NOW))
    assert await uow.people.audience(Audience.AFFILIATES) == ["club@example.org"]


# --- versions in flight --------------------------------------------------------------------------


async def test_a_version_1_pass_granted_still_on_the_topic_reaches_the_same_use_case():
    uow = FakeNotificationUnitOfWork()
    v1 = ev.PassGrantedV1(
        application_id="app-1", campaign_id=CAMPAIGN, campaign_label=CAMPAIGN, school_id="0920001A",
        student=ev.Student(last_name="Martin", first_name="Noé", birth_date=date(2013, 5, 4), level="5e"),
        guardian=ev.Guardian(last_name="Martin", first_name="Léa", email="lea@example.fr", phone="0600000000"),
        allowance_cents=7000, tickets_per_pass=7, ticket_min_cents=500, ticket_max_cents=7000,
        pass_valid_until=date(2027, 3, 31), validated_at=NOW,
    )
    await handle(uow, v1)
    await handle(uow, created("app-1"))
    (ready,) = uow.messages.all()
    assert ready.template is Template.WALLET_READY and ready.recipient == "lea@example.fr"
    assert "0600000000" not in ready.text and "2013" not in ready.text


async def test_a_version_1_invitation_on_the_old_topic_is_told_like_its_version_2():
    uow = FakeNotificationUnitOfWork()
    await handle(uow, ev.AffiliateInvitedV1(**invited("T0ken").model_dump()))
    (message,) = uow.messages.all()
    assert message.template is Template.AFFILIATE_INVITATION and message.secret.kind is SecretKind.LINK


async def test_a_version_2_batch_paid_tells_no_one_and_each_transfer_sent_tells_its_organisation_once():
    uow = FakeNotificationUnitOfWork()
    await handle(uow, ev.ReimbursementBatchPaid(
        batch_id="batch-2", campaign_id=CAMPAIGN, redemption_ids=["r1"], total_cents=7000, paid_at=NOW,
        transfers=[ev.PaidTransfer(affiliate_id="aff-a", amount_cents=7000, count=2)],
    ))
    assert uow.messages.all() == []
    sent = ev.ReimbursementTransferSent(
        affiliate_id="aff-a", name="Judo", contact_email="a@example.org", batch_id="batch-2", campaign_id=CAMPAIGN,
        amount_cents=7000, count=2, paid_at=NOW,
    )
    await handle(uow, sent)
    await handle(uow, sent)  # published again under another event id: the same transfer
    (paid,) = uow.messages.all()
    assert paid.recipient == "a@example.org" and paid.template is Template.REIMBURSEMENT_PAID
    assert paid.subject == "Pass Hauts-de-Seine : remboursement de 70 € effectué" and "27 novembre 2026" in paid.text


# --- the weekly digest ---------------------------------------------------------------------------


def digest(digest_id: str = "dig-1") -> ev.CorrespondentDigestDue:
    waiting = [
        ev.WaitingFile(application_id="app-2", student_last_name="Petit", student_first_name="Jules",
                       submitted_at=NOW - timedelta(days=2)),
        ev.WaitingFile(application_id="app-1", student_last_name="Durand", student_first_name="Élodie",
                       channel="paper", submitted_at=NOW - timedelta(days=12)),
    ]
    return ev.CorrespondentDigestDue(
        digest_id=digest_id, school_id="0920001A", school_name="Collège Paul Éluard",
        correspondent_email="principal@college.fr", week="2026-W48", waiting=waiting, total_waiting=2,
        oldest_submitted_at=NOW - timedelta(days=12), due_at=NOW,
    )


async def test_the_weekly_digest_lists_the_waiting_files_oldest_first_with_their_age_once_per_digest():
    uow = FakeNotificationUnitOfWork()
    await handle(uow, submitted("app-1", family_sub="family-durand", first_name="Élodie"))
    event = digest()
    await handle(uow, event)
    await handle(uow, event)  # the same digest again, under another event id
    (sent,) = [m for m in uow.messages.all() if m.template is Template.CORRESPONDENT_DIGEST]
    assert sent.recipient == "principal@college.fr" and sent.campaign_id == CAMPAIGN
    assert "2 inscriptions attendent votre validation" in sent.subject
    durand, petit = sent.text.index("Durand Élodie"), sent.text.index("Petit Jules")
    assert durand < petit and "depuis 12 jours (bulletin papier)" in sent.text and "depuis 2 jours" in sent.text
    assert sent.about == About(("app-1", "app-2"), (), ("family-durand",))


# --- telling families ----------------------------------------------------------------------------


async def test_a_ticket_used_is_told_to_the_guardian_once_per_redemption_with_organisation_amount_and_date():
    uow = FakeNotificationUnitOfWork()
    await handle(uow, activated())
    await handle(uow, created("app-1"))
    await handle(uow, redeemed())
    await handle(uow, redeemed())  # the same redemption published again
    (used,) = [m for m in uow.messages.all() if m.template is Template.TICKET_REDEEMED]
    assert used.recipient == "lea@example.fr"
    assert used.subject == "Pass Hauts-de-Seine : un ticket de 10 € a été utilisé chez Judo Club"
    assert "27/11/2026 à 11 h 00" in used.text and "Noé" in used.text  # Paris time
    assert used.about == About(("app-1",), ("wal-1",), ("family-lea",))


async def test_a_ticket_used_on_a_wallet_never_seen_tells_no_one():
    uow = FakeNotificationUnitOfWork()
    await handle(uow, redeemed(wallet_id="wal-unknown"))
    assert uow.messages.all() == []


async def test_the_expiry_reminder_is_sent_once_per_wallet_with_what_is_left():
    uow = FakeNotificationUnitOfWork()
    due = ev.PassExpiryReminderDue(
        wallet_id="wal-1", campaign_id=CAMPAIGN, guardian_email="lea@example.fr", student_first_name="Noé",
        valid_until=date(2027, 3, 31), credited_unspent_cents=2000, remaining_cents=1500, due_at=NOW,
    )
    await handle(uow, due)
    await handle(uow, due)
    (reminder,) = uow.messages.all()
    assert reminder.template is Template.PASS_EXPIRY_REMINDER and reminder.recipient == "lea@example.fr"
    assert "il reste 35 € sur le Pass de Noé" in reminder.subject and "31/03/2027" in reminder.subject


async def test_the_new_sheet_after_a_replacement_is_the_wallets_snapshot_and_says_the_old_ticket_is_dead():
    uow = FakeNotificationUnitOfWork()
    await handle(uow, ev.TicketsEmailRequested(
        request_id="req-9", wallet_id="wal-1", campaign_id=CAMPAIGN, positions=[4], guardian_email="lea@example.fr",
        student_first_name="Noé", requested_at=NOW, reason="replaced",
    ))
    (sheet,) = uow.messages.all()
    assert sheet.attachment.request_id == "req-9" and sheet.attachment.positions == (4,)
    assert "votre nouveau ticket" in sheet.subject and "ne fonctionne plus" in sheet.text


async def test_a_replacement_refused_tells_the_family_the_ticket_had_been_used():
    uow = FakeNotificationUnitOfWork()
    await handle(uow, activated())
    await handle(uow, created("app-1"))
    await handle(uow, ev.TicketReplaceRefused(
        ticket_id="tic-1", wallet_id="wal-1", campaign_id=CAMPAIGN, reason_code="TICKET_ALREADY_REDEEMED",
        reason="déjà utilisé", redeemed_at=NOW, affiliate_id="aff-1",
    ))
    (refused,) = [m for m in uow.messages.all() if m.template is Template.TICKET_REPLACE_REFUSED]
    assert refused.recipient == "lea@example.fr" and "Judo Club" in refused.text and "déjà été utilisé" in refused.text


# --- organisations ---------------------------------------------------------------------------------


def cancelled(by: str = "admin", then: str = "void") -> ev.RedemptionCancelled:
    return ev.RedemptionCancelled(
        redemption_id="red-1", ticket_id="tic-1", wallet_id="wal-1", campaign_id=CAMPAIGN, affiliate_id="aff-1",
        amount_cents=3000, cancelled_at=NOW, cancelled_by_role=by, reason="Ticket accepté par erreur", then=then,
    )


async def test_a_late_cancellation_by_staff_tells_the_organisation_why_how_much_and_what_the_ticket_became():
    uow = FakeNotificationUnitOfWork()
    await handle(uow, ev.ConventionSigned(affiliate_id="aff-1", name="Judo Club", contact_email="club@example.org",
                                          convention_version="1", document_sha256="0" * 64, signed_at=NOW))
    await handle(uow, cancelled("affiliate"))
    assert [m.template for m in uow.messages.all()] == [Template.CONVENTION_SIGNED]
    await handle(uow, cancelled("admin", "void"))
    (told,) = [m for m in uow.messages.all() if m.template is Template.REDEMPTION_CANCELLED]
    assert told.recipient == "club@example.org"
    assert "Ticket accepté par erreur" in told.text and "30\u00a0€" in told.text and "ne peut plus" in told.text


async def test_a_contact_change_tells_the_old_address_and_later_notices_go_to_the_new_one():
    uow = FakeNotificationUnitOfWork()
    await handle(uow, ev.ConventionSigned(affiliate_id="aff-1", name="Judo Club", contact_email="old@example.org",
                                          convention_version="1", document_sha256="0" * 64, signed_at=NOW))
    await handle(uow, ev.AffiliateContactChanged(affiliate_id="aff-1", name="Judo Club",
                                                 old_contact_email="old@example.org",
                                                 new_contact_email="New@Example.org", changed_at=NOW))
    (changed,) = [m for m in uow.messages.all() if m.template is Template.AFFILIATE_CONTACT_CHANGED]
    assert changed.recipient == "old@example.org" and "new@example.org" in changed.text
    await handle(uow, cancelled())
    (told,) = [m for m in uow.messages.all() if m.template is Template.REDEMPTION_CANCELLED]
    assert told.recipient == "new@example.org"


async def test_the_iban_change_code_is_kept_sealed_and_out_of_the_body_and_the_change_is_told():
    uow = FakeNotificationUnitOfWork()
    await handle(uow, ev.IbanChangeOtpIssued(affiliate_id="aff-1", name="Judo Club", contact_email="club@example.org",
                                             sealed_otp=seal("318274", KEY), new_iban_suffix="4321",
                                             expires_at=NOW + timedelta(minutes=10)))
    await handle(uow, ev.AffiliateIbanChanged(affiliate_id="aff-1", name="Judo Club", contact_email="club@example.org",
                                              iban_suffix="4321", changed_at=NOW))
    by_template = {m.template: m for m in uow.messages.all()}
    code = by_template[Template.IBAN_CHANGE_OTP]
    assert unseal(code.secret.sealed, KEY) == "318274" and code.secret.kind is SecretKind.CODE
    assert "[code retiré]" in code.text and "318274" not in code.text + code.html and "4321" in code.text
    assert "4321" in by_template[Template.AFFILIATE_IBAN_CHANGED].text
