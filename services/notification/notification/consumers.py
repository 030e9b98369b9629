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

    # --- the enrolment service, the wallet, the redemption service ---------------------------------
    service.applies(uow, {
        ev.CampaignPublished: families.campaign_published,
        ev.SchoolRegistered: families.school_registered,
        ev.CorrespondentDigestDue: families.correspondent_digest_due,
        ev.ApplicationSubmitted: families.application_submitted,
        ev.PassGranted: families.pass_granted,
        ev.ApplicationRejected: families.application_rejected,
        ev.WalletCreated: families.wallet_created,
        ev.TicketsEmailRequested: families.tickets_email_requested,
        ev.PassExpiryReminderDue: families.pass_expiry_reminder_due,
        ev.TicketRedeemed: families.ticket_redeemed,
        ev.TicketReplaceRefused: families.ticket_replace_refused,
        ev.RedemptionCancelled: affiliates.redemption_cancelled,
    }, with_envelope=True)

    @service.on(ev.GuardianErasureRequested)
    async def guardian_erasure_requested(conn, event: ev.GuardianErasureRequested, envelope) -> None:
        await privacy.erase(uow(conn), event, datetime.now(UTC))

    @service.on_campaign_purge
    async def campaign_purge(conn, event: ev.CampaignPurgeStarted) -> None:
        await privacy.purge_campaign(uow(conn), event, datetime.now(UTC))

    # --- the affiliation service: affiliation.affiliates, affiliation.notices (with the version 1 of
    # the notices still on affiliation.affiliates, the same fields), affiliation.reimbursements
    # (version 1 told each contact; version 2 tells none) -----------------------------------------
    service.applies(uow, {
        ev.AffiliateActivated: affiliates.affiliate_activated,
        ev.AffiliateSuspended: affiliates.affiliate_suspended,
        ev.AffiliateInvited: affiliates.affiliate_invited,
        ev.AffiliateInvitedV1: affiliates.affiliate_invited,
        ev.ConventionOtpIssued: affiliates.convention_otp_issued,
        ev.ConventionOtpIssuedV1: affiliates.convention_otp_issued,
        ev.ConventionSigned: affiliates.convention_signed,
        ev.ConventionSignedV1: affiliates.convention_signed,
        ev.PasswordResetRequested: affiliates.password_reset_requested,
        ev.PasswordResetRequestedV1: affiliates.password_reset_requested,
        ev.AffiliateLoginReminded: affiliates.affiliate_login_reminded,
        ev.AffiliateLoginRemindedV1: affiliates.affiliate_login_reminded,
        ev.IbanChangeOtpIssued: affiliates.iban_change_otp_issued,
        ev.AffiliateIbanChanged: affiliates.affiliate_iban_changed,
        ev.AffiliateContactChanged: affiliates.affiliate_contact_changed,
        ev.ReimbursementTransferSent: affiliates.reimbursement_transfer_sent,
        ev.ReimbursementBatchPaid: affiliates.reimbursement_batch_paid,
    }, with_envelope=True)
