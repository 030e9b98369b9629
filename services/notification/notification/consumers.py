"""Kafka handlers: each runs in the runtime's transaction with the inbox row and hands its event to the
application in a unit of work joining that transaction.

A handler registered for a version 2 class also receives the version 1 messages of the same type still
on the same topic. The contact-bearing affiliation events moved to affiliation.notices: their retired
version 1 classes on affiliation.affiliates keep a handler for the messages already there.
"""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg

from carnet_contracts import events as ev
from carnet_runtime import Service

from .application import privacy
from .application.affiliates import AffiliateNotices
from .application.families import FamilyNotices
from .store import NotificationUnitOfWork


def register(service: Service, families: FamilyNotices, affiliates: AffiliateNotices) -> None:
    def uow(conn: asyncpg.Connection) -> NotificationUnitOfWork:
        return NotificationUnitOfWork.joining(conn, service.outbox)

    # --- enrolment -------------------------------------------------------------------------------

    @service.on(ev.CampaignPublished)
    async def campaign_published(conn, event: ev.CampaignPublished, envelope) -> None:
        await families.campaign_published(uow(conn), event, envelope)

    @service.on(ev.SchoolRegistered)
    async def school_registered(conn, event: ev.SchoolRegistered, envelope) -> None:
        await families.school_registered(uow(conn), event, envelope)

    @service.on(ev.CorrespondentDigestDue)
    async def correspondent_digest_due(conn, event: ev.CorrespondentDigestDue, envelope) -> None:
        await families.correspondent_digest_due(uow(conn), event, envelope)

    @service.on(ev.ApplicationSubmitted)
    async def application_submitted(conn, event: ev.ApplicationSubmitted, envelope) -> None:
        await families.application_submitted(uow(conn), event, envelope)

    @service.on(ev.PassGranted)
    async def pass_granted(conn, event: ev.PassGranted, envelope) -> None:
        await families.pass_granted(uow(conn), event, envelope)

    @service.on(ev.ApplicationRejected)
    async def application_rejected(conn, event: ev.ApplicationRejected, envelope) -> None:
        await families.application_rejected(uow(conn), event, envelope)

    @service.on(ev.GuardianErasureRequested)
    async def guardian_erasure_requested(conn, event: ev.GuardianErasureRequested, envelope) -> None:
        await privacy.erase(uow(conn), event, datetime.now(UTC))

    @service.on_campaign_purge
    async def campaign_purge(conn, event: ev.CampaignPurgeStarted) -> None:
        await privacy.purge_campaign(uow(conn), event, datetime.now(UTC))

    # --- the wallet ------------------------------------------------------------------------------

    @service.on(ev.WalletCreated)
    async def wallet_created(conn, event: ev.WalletCreated, envelope) -> None:
        await families.wallet_created(uow(conn), event, envelope)

    @service.on(ev.TicketsEmailRequested)
    async def tickets_email_requested(conn, event: ev.TicketsEmailRequested, envelope) -> None:
        await families.tickets_email_requested(uow(conn), event, envelope)

    @service.on(ev.PassExpiryReminderDue)
    async def pass_expiry_reminder_due(conn, event: ev.PassExpiryReminderDue, envelope) -> None:
        await families.pass_expiry_reminder_due(uow(conn), event, envelope)

    # --- the redemption service ------------------------------------------------------------------

    @service.on(ev.TicketRedeemed)
    async def ticket_redeemed(conn, event: ev.TicketRedeemed, envelope) -> None:
        await families.ticket_redeemed(uow(conn), event, envelope)

    @service.on(ev.TicketReplaceRefused)
    async def ticket_replace_refused(conn, event: ev.TicketReplaceRefused, envelope) -> None:
        await families.ticket_replace_refused(uow(conn), event, envelope)

    @service.on(ev.RedemptionCancelled)
    async def redemption_cancelled(conn, event: ev.RedemptionCancelled, envelope) -> None:
        await affiliates.redemption_cancelled(uow(conn), event, envelope)

    # --- affiliation.affiliates --------------------------------------------------------------------

    @service.on(ev.AffiliateActivated)
    async def affiliate_activated(conn, event: ev.AffiliateActivated, envelope) -> None:
        await affiliates.affiliate_activated(uow(conn), event, envelope)

    @service.on(ev.AffiliateSuspended)
    async def affiliate_suspended(conn, event: ev.AffiliateSuspended, envelope) -> None:
        await affiliates.affiliate_suspended(uow(conn), event, envelope)

    # --- affiliation.notices, and their version 1 on affiliation.affiliates ----------------------

    for notice, retired, use_case in (
        (ev.AffiliateInvited, ev.AffiliateInvitedV1, affiliates.affiliate_invited),
        (ev.ConventionOtpIssued, ev.ConventionOtpIssuedV1, affiliates.convention_otp_issued),
        (ev.ConventionSigned, ev.ConventionSignedV1, affiliates.convention_signed),
        (ev.PasswordResetRequested, ev.PasswordResetRequestedV1, affiliates.password_reset_requested),
        (ev.AffiliateLoginReminded, ev.AffiliateLoginRemindedV1, affiliates.affiliate_login_reminded),
    ):
        service.on(notice)(_handler(uow, use_case))
        service.on(retired)(_handler(uow, use_case))

    @service.on(ev.IbanChangeOtpIssued)
    async def iban_change_otp_issued(conn, event: ev.IbanChangeOtpIssued, envelope) -> None:
        await affiliates.iban_change_otp_issued(uow(conn), event, envelope)

    @service.on(ev.AffiliateIbanChanged)
    async def affiliate_iban_changed(conn, event: ev.AffiliateIbanChanged, envelope) -> None:
        await affiliates.affiliate_iban_changed(uow(conn), event, envelope)

    @service.on(ev.AffiliateContactChanged)
    async def affiliate_contact_changed(conn, event: ev.AffiliateContactChanged, envelope) -> None:
        await affiliates.affiliate_contact_changed(uow(conn), event, envelope)

    @service.on(ev.ReimbursementTransferSent)
    async def reimbursement_transfer_sent(conn, event: ev.ReimbursementTransferSent, envelope) -> None:
        await affiliates.reimbursement_transfer_sent(uow(conn), event, envelope)

    # --- affiliation.reimbursements (version 1 told each contact; version 2 tells none) ------------

    @service.on(ev.ReimbursementBatchPaid)
    async def reimbursement_batch_paid(conn, event: ev.ReimbursementBatchPaid, envelope) -> None:
        await affiliates.reimbursement_batch_paid(uow(conn), event, envelope)


def _handler(uow, use_case):
    """One handler for a notice's two versions (the same fields), on their two topics."""

    async def handle(conn, event, envelope) -> None:
        await use_case(uow(conn), event, envelope)

    handle.__name__ = use_case.__name__
    return handle
