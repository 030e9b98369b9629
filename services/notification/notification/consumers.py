"""Kafka handlers: each runs in the runtime's transaction with the inbox row and hands its event to
the application (application/events.py) in a unit of work joining that transaction."""

from __future__ import annotations

import asyncpg

from carnet_contracts import events as ev
from carnet_runtime import Service

from .application.events import Notifier
from .store import NotificationUnitOfWork


def register(service: Service, notifier: Notifier) -> None:
    def uow(conn: asyncpg.Connection) -> NotificationUnitOfWork:
        return NotificationUnitOfWork.joining(conn, service.outbox)

    # --- what the service learns to address people ---------------------------------------------

    @service.on(ev.CampaignPublished)
    async def campaign_published(conn, event: ev.CampaignPublished, envelope) -> None:
        await notifier.campaign_published(uow(conn), event, envelope)

    @service.on(ev.SchoolRegistered)
    async def school_registered(conn, event: ev.SchoolRegistered, envelope) -> None:
        await notifier.school_registered(uow(conn), event, envelope)

    @service.on(ev.AffiliateActivated)
    async def affiliate_activated(conn, event: ev.AffiliateActivated, envelope) -> None:
        await notifier.affiliate_activated(uow(conn), event, envelope)

    @service.on(ev.AffiliateSuspended)
    async def affiliate_suspended(conn, event: ev.AffiliateSuspended, envelope) -> None:
        await notifier.affiliate_suspended(uow(conn), event, envelope)

    # --- families ------------------------------------------------------------------------------

    @service.on(ev.ApplicationSubmitted)
    async def application_submitted(conn, event: ev.ApplicationSubmitted, envelope) -> None:
        await notifier.application_submitted(uow(conn), event, envelope)

    @service.on(ev.PassGranted)
    async def pass_granted(conn, event: ev.PassGranted, envelope) -> None:
        await notifier.pass_granted(uow(conn), event, envelope)

    @service.on(ev.WalletCreated)
    async def wallet_created(conn, event: ev.WalletCreated, envelope) -> None:
        await notifier.wallet_created(uow(conn), event, envelope)

    @service.on(ev.ApplicationRejected)
    async def application_rejected(conn, event: ev.ApplicationRejected, envelope) -> None:
        await notifier.application_rejected(uow(conn), event, envelope)

    @service.on(ev.TicketsEmailRequested)
    async def tickets_email_requested(conn, event: ev.TicketsEmailRequested, envelope) -> None:
        await notifier.tickets_email_requested(uow(conn), event, envelope)

    # --- affiliates ----------------------------------------------------------------------------

    @service.on(ev.AffiliateInvited)
    async def affiliate_invited(conn, event: ev.AffiliateInvited, envelope) -> None:
        await notifier.affiliate_invited(uow(conn), event, envelope)

    @service.on(ev.ConventionOtpIssued)
    async def convention_otp_issued(conn, event: ev.ConventionOtpIssued, envelope) -> None:
        await notifier.convention_otp_issued(uow(conn), event, envelope)

    @service.on(ev.ConventionSigned)
    async def convention_signed(conn, event: ev.ConventionSigned, envelope) -> None:
        await notifier.convention_signed(uow(conn), event, envelope)

    @service.on(ev.PasswordResetRequested)
    async def password_reset_requested(conn, event: ev.PasswordResetRequested, envelope) -> None:
        await notifier.password_reset_requested(uow(conn), event, envelope)

    @service.on(ev.AffiliateLoginReminded)
    async def affiliate_login_reminded(conn, event: ev.AffiliateLoginReminded, envelope) -> None:
        await notifier.affiliate_login_reminded(uow(conn), event, envelope)

    @service.on(ev.ReimbursementBatchPaid)
    async def reimbursement_batch_paid(conn, event: ev.ReimbursementBatchPaid, envelope) -> None:
        await notifier.reimbursement_batch_paid(uow(conn), event, envelope)
