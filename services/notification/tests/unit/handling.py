"""The event use cases as the consumers call them, for tests on the in-memory unit of work."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from carnet_contracts import events as ev
from carnet_contracts.envelope import Envelope
from carnet_contracts.sealing import unseal
from notification.application.affiliates import AffiliateNotices
from notification.application.families import FamilyNotices
from notification.domain import RetentionPolicy
from notification.rendering import Branding, Renderer

from .fakes import FakeNotificationUnitOfWork

KEY = "unit-test-seal-key-" + "0" * 32
NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
CAMPAIGN = "2026-2027"
RETENTION = RetentionPolicy(days_after_campaign=60, days_without_campaign=400)
renderer = Renderer(Branding())
families = FamilyNotices(renderer, RETENTION, unseal=lambda sealed: unseal(sealed, KEY))
affiliates = AffiliateNotices(
    renderer, RETENTION, activation_url="https://pass.example/activation",
    password_reset_url="https://pass.example/mot-de-passe", unseal=lambda sealed: unseal(sealed, KEY),
)


def envelope(event: ev.Event, event_id: uuid.UUID | None = None, campaign_id: str | None = None) -> Envelope:
    return Envelope.wrap(event, producer="test", event_id=event_id or uuid.uuid4(), occurred_at=NOW,
                         campaign_id=campaign_id)


async def handle(uow: FakeNotificationUnitOfWork, event: ev.Event, **kwargs) -> None:
    """The use case the consumers call for this event (a version 1 class reaches its version 2's)."""
    name = _snake(type(event).__name__).removesuffix("_v1")
    use_case = getattr(families, name, None) or getattr(affiliates, name)
    await use_case(uow, event, envelope(event, **kwargs))


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


def pupil(first_name: str = "Noé") -> ev.Pupil:
    return ev.Pupil(last_name="Martin", first_name=first_name, level="5e")


def guardian(email: str = "lea@example.fr") -> ev.GuardianContact:
    return ev.GuardianContact(last_name="Martin", first_name="Léa", email=email)


def campaign_published(campaign_id: str = CAMPAIGN) -> ev.CampaignPublished:
    return ev.CampaignPublished(
        campaign_id=campaign_id, label=campaign_id, enrolment_opens=date(2026, 6, 1),
        enrolment_closes=date(2026, 11, 30), pass_valid_until=date(2027, 3, 31),
        reimbursement_deadline=date(2027, 4, 30), allowance_cents=7000, tickets_per_pass=7,
        ticket_min_cents=500, ticket_max_cents=7000, eligible_postcode_prefixes=["92"],
        eligible_levels=["6e", "5e", "4e", "3e"],
    )


def submitted(application_id: str, email: str = "lea@example.fr", family_sub: str | None = "family-lea",
              campaign_id: str = CAMPAIGN, first_name: str = "Noé") -> ev.ApplicationSubmitted:
    return ev.ApplicationSubmitted(
        application_id=application_id, campaign_id=campaign_id, school_id="0920001A", family_sub=family_sub,
        student=pupil(first_name), guardian=guardian(email), submitted_at=NOW,
    )


def granted(application_id: str, email: str = "lea@example.fr", family_sub: str | None = "family-lea",
            campaign_id: str = CAMPAIGN) -> ev.PassGranted:
    return ev.PassGranted(
        application_id=application_id, campaign_id=campaign_id, campaign_label=campaign_id, school_id="0920001A",
        family_sub=family_sub, student=pupil(), guardian=guardian(email), allowance_cents=7000,
        tickets_per_pass=7, ticket_min_cents=500, ticket_max_cents=7000, pass_valid_until=date(2027, 3, 31),
        validated_at=NOW,
    )


def created(application_id: str, wallet_id: str = "wal-1", email: str = "lea@example.fr",
            family_sub: str | None = "family-lea", campaign_id: str = CAMPAIGN) -> ev.WalletCreated:
    return ev.WalletCreated(
        wallet_id=wallet_id, application_id=application_id, campaign_id=campaign_id, family_sub=family_sub,
        ticket_count=7, allowance_cents=7000, valid_until=date(2027, 3, 31), student_first_name="Noé",
        guardian_email=email, created_at=NOW,
    )


def redeemed(redemption_id: str = "red-1", wallet_id: str = "wal-1", affiliate_id: str = "aff-1",
             amount_cents: int = 1000) -> ev.TicketRedeemed:
    return ev.TicketRedeemed(
        redemption_id=redemption_id, ticket_id="tic-1", wallet_id=wallet_id, campaign_id=CAMPAIGN,
        affiliate_id=affiliate_id, amount_cents=amount_cents, code_suffix="7K2Q", redeemed_at=NOW,
    )


def activated(affiliate_id: str = "aff-1", name: str = "Judo Club") -> ev.AffiliateActivated:
    return ev.AffiliateActivated(affiliate_id=affiliate_id, name=name, activity="sport", city="Nanterre",
                                 postcode="92000", activated_at=NOW)
