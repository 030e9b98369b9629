"""The use cases of the events consumed, on an in-memory unit of work."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from carnet_contracts import events as ev
from carnet_contracts.envelope import Envelope
from carnet_contracts.sealing import InvalidToken, seal, unseal
from carnet_runtime import Refusal
from notification.application.events import Notifier
from notification.domain import Audience, RetentionPolicy, SecretKind, Template, forget_at
from notification.rendering import Branding, Renderer

from .fakes import FakeNotificationUnitOfWork

KEY = "unit-test-seal-key-" + "0" * 32
NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
RETENTION = RetentionPolicy(days_after_campaign=60, days_without_campaign=400)
notifier = Notifier(
    Renderer(Branding()), RETENTION, activation_url="https://pass.example/activation",
    password_reset_url="https://pass.example/mot-de-passe", unseal=lambda sealed: unseal(sealed, KEY),
)


def envelope(event: ev.Event, event_id: uuid.UUID | None = None, campaign_id: str | None = None) -> Envelope:
    return Envelope.wrap(event, producer="test", event_id=event_id or uuid.uuid4(), occurred_at=NOW,
                         campaign_id=campaign_id)


async def handle(uow: FakeNotificationUnitOfWork, event: ev.Event, **kwargs) -> None:
    use_case = getattr(notifier, _snake(type(event).__name__))
    await use_case(uow, event, envelope(event, **kwargs))


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


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


def _granted(application_id: str) -> ev.PassGranted:
    return ev.PassGranted(
        application_id=application_id, campaign_id="2026-2027", campaign_label="2026-2027", school_id="0920001A",
        student=ev.Student(last_name="Martin", first_name="Noé", birth_date=date(2013, 5, 4), level="5e"),
        guardian=ev.Guardian(last_name="Martin", first_name="Léa", email="lea@example.fr"),
        allowance_cents=7000, tickets_per_pass=7, ticket_min_cents=500, ticket_max_cents=7000,
        pass_valid_until=date(2027, 3, 31), validated_at=NOW,
    )


def _created(application_id: str) -> ev.WalletCreated:
    return ev.WalletCreated(
        wallet_id="wal-1", application_id=application_id, campaign_id="2026-2027", ticket_count=7,
        allowance_cents=7000, valid_until=date(2027, 3, 31), student_first_name="Noé",
        guardian_email="lea@example.fr", created_at=NOW,
    )


@pytest.mark.parametrize("wallet_first", [True, False])
async def test_the_family_is_told_its_wallet_is_ready_once_both_halves_are_in_whatever_their_order(wallet_first):
    uow = FakeNotificationUnitOfWork()
    halves = [_created("app-1"), _granted("app-1")]
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


async def test_a_reimbursement_batch_tells_each_affiliate_its_own_amount_once():
    uow = FakeNotificationUnitOfWork()
    event = ev.ReimbursementBatchPaid(
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
        guardian=ev.Guardian(last_name="Martin", first_name="Léa", email="lea@example.fr"), reason="Inconnu",
        rejected_at=NOW,
    ))
    (row,) = uow.messages.rows.values()
    assert row.forget_at == NOW + timedelta(days=400)  # no campaign known yet
    await handle(uow, ev.CampaignPublished(
        campaign_id="2026-2027", label="2026-2027", enrolment_opens=date(2026, 6, 1),
        enrolment_closes=date(2026, 11, 30), pass_valid_until=date(2027, 3, 31),
        reimbursement_deadline=date(2027, 4, 30), allowance_cents=7000, tickets_per_pass=7,
        ticket_min_cents=500, ticket_max_cents=7000, eligible_postcode_prefixes=["92"],
        eligible_levels=["6e", "5e", "4e", "3e"],
    ))
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
