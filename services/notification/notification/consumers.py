"""Kafka handlers: every event that tells a person something becomes one queued message.

Each handler runs in the runtime's transaction with the inbox row, so a redelivered event is
absorbed there; the unique (event_id, template) of `messages` holds the line besides. Sealed
secrets are unsealed here only to render the body, and never logged.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

import asyncpg

from carnet_contracts import events as ev
from carnet_contracts.envelope import Envelope
from carnet_contracts.sealing import unseal
from carnet_runtime import Service

from . import store
from .domain import (
    PARIS,
    AffiliateInvitation,
    AffiliateLoginReminder,
    ApplicationReceived,
    ApplicationRejected,
    Content,
    ConventionOtp,
    ConventionSigned,
    PasswordReset,
    ReimbursementPaid,
    TicketsSheet,
    WalletReady,
    campaign_ends,
    forget_at,
    link_with_token,
    message_key,
    normalise_recipient,
)
from .rendering import Renderer
from .settings import NotificationSettings


def register(service: Service, settings: NotificationSettings, renderer: Renderer) -> None:
    async def retention_end(conn: asyncpg.Connection, campaign_id: str | None, now: datetime) -> datetime:
        return forget_at(
            await store.campaign_end(conn, campaign_id),
            now,
            settings.retention_days,
            settings.retention_without_campaign_days,
        )

    async def queue(
        conn: asyncpg.Connection,
        envelope: Envelope,
        recipient: str,
        content: Content,
        *,
        campaign_id: str | None = None,
        event_id: uuid.UUID | None = None,
        attachment: dict | None = None,
    ) -> None:
        campaign_id = campaign_id or envelope.campaign_id
        await store.enqueue(
            conn,
            event_id=event_id or envelope.event_id,
            template=content.template,
            recipient=normalise_recipient(recipient),
            rendered=renderer.render(content),
            forget_at=await retention_end(conn, campaign_id, envelope.occurred_at),
            campaign_id=campaign_id,
            source_event_id=envelope.event_id,
            attachment=attachment,
        )

    # --- what the service learns to address people -------------------------------------------

    @service.on(ev.CampaignPublished)
    async def campaign_published(conn, event: ev.CampaignPublished, envelope: Envelope) -> None:
        await store.save_campaign(
            conn, event.campaign_id, event.label, event.pass_valid_until, event.reimbursement_deadline
        )
        end = campaign_ends(event.pass_valid_until, event.reimbursement_deadline)
        await store.reschedule_forgetting(
            conn, event.campaign_id, forget_at(end, envelope.occurred_at, settings.retention_days, 0)
        )

    @service.on(ev.SchoolRegistered)
    async def school_registered(conn, event: ev.SchoolRegistered, envelope: Envelope) -> None:
        email = normalise_recipient(event.correspondent_email) if event.correspondent_email else None
        await store.remember_correspondent(conn, event.school_id, email)

    @service.on(ev.AffiliateActivated)
    async def affiliate_activated(conn, event: ev.AffiliateActivated, envelope: Envelope) -> None:
        await store.set_affiliate_suspended(conn, event.affiliate_id, False)

    @service.on(ev.AffiliateSuspended)
    async def affiliate_suspended(conn, event: ev.AffiliateSuspended, envelope: Envelope) -> None:
        await store.set_affiliate_suspended(conn, event.affiliate_id, True)

    # --- families -------------------------------------------------------------------------------

    @service.on(ev.ApplicationSubmitted)
    async def application_submitted(conn, event: ev.ApplicationSubmitted, envelope: Envelope) -> None:
        email = normalise_recipient(event.guardian.email)
        until = await retention_end(conn, event.campaign_id, envelope.occurred_at)
        await store.remember_family(conn, event.application_id, event.campaign_id, email, until)
        label = await conn.fetchval("SELECT label FROM campaigns WHERE campaign_id = $1", event.campaign_id)
        await queue(
            conn,
            envelope,
            email,
            ApplicationReceived(
                guardian_first_name=event.guardian.first_name,
                guardian_last_name=event.guardian.last_name,
                student_first_name=event.student.first_name,
                student_last_name=event.student.last_name,
                campaign_label=label,
            ),
            campaign_id=event.campaign_id,
        )

    async def tell_wallet_ready(conn, row: asyncpg.Record, envelope: Envelope) -> None:
        if row["granted"] is None or row["wallet_event_id"] is None:
            return  # the other half has not arrived yet
        granted = dict(row["granted"])
        if granted.get("pass_valid_until"):
            granted["pass_valid_until"] = date.fromisoformat(granted["pass_valid_until"])
        await queue(
            conn,
            envelope,
            row["recipient"],
            WalletReady(**granted),
            campaign_id=row["campaign_id"],
            event_id=row["wallet_event_id"],
        )

    @service.on(ev.PassGranted)
    async def pass_granted(conn, event: ev.PassGranted, envelope: Envelope) -> None:
        email = normalise_recipient(event.guardian.email)
        until = await retention_end(conn, event.campaign_id, envelope.occurred_at)
        await store.remember_family(conn, event.application_id, event.campaign_id, email, until)
        content = WalletReady(
            guardian_first_name=event.guardian.first_name,
            guardian_last_name=event.guardian.last_name,
            student_first_name=event.student.first_name,
            student_last_name=event.student.last_name,
            allowance_cents=event.allowance_cents,
            tickets_per_pass=event.tickets_per_pass,
            ticket_min_cents=event.ticket_min_cents,
            ticket_max_cents=event.ticket_max_cents,
            pass_valid_until=event.pass_valid_until,
        )
        granted = {k: (v.isoformat() if isinstance(v, date) else v) for k, v in content.variables().items()}
        row = await store.record_grant(
            conn, event.application_id, event.campaign_id, granted, email, envelope.event_id, until
        )
        await tell_wallet_ready(conn, row, envelope)

    @service.on(ev.WalletCreated)
    async def wallet_created(conn, event: ev.WalletCreated, envelope: Envelope) -> None:
        until = await retention_end(conn, event.campaign_id, envelope.occurred_at)
        row = await store.record_wallet(conn, event.application_id, event.campaign_id, envelope.event_id, until)
        await tell_wallet_ready(conn, row, envelope)

    @service.on(ev.ApplicationRejected)
    async def application_rejected(conn, event: ev.ApplicationRejected, envelope: Envelope) -> None:
        await queue(
            conn,
            envelope,
            event.guardian.email,
            ApplicationRejected(
                guardian_first_name=event.guardian.first_name,
                guardian_last_name=event.guardian.last_name,
                student_first_name=event.student_first_name,
                reason=event.reason,
            ),
            campaign_id=event.campaign_id,
        )

    @service.on(ev.TicketsEmailRequested)
    async def tickets_email_requested(conn, event: ev.TicketsEmailRequested, envelope: Envelope) -> None:
        valid_until = await conn.fetchval(
            "SELECT pass_valid_until FROM campaigns WHERE campaign_id = $1", event.campaign_id
        )
        await queue(
            conn,
            envelope,
            event.guardian_email,
            TicketsSheet(
                positions=tuple(sorted(event.positions)),
                student_first_name=event.student_first_name,
                pass_valid_until=valid_until,
            ),
            campaign_id=event.campaign_id,
            attachment={"wallet_id": event.wallet_id, "positions": sorted(event.positions), "filename": "tickets.pdf"},
        )

    # --- affiliates -----------------------------------------------------------------------------

    @service.on(ev.AffiliateInvited)
    async def affiliate_invited(conn, event: ev.AffiliateInvited, envelope: Envelope) -> None:
        await store.remember_affiliate(conn, event.affiliate_id, event.name, normalise_recipient(event.contact_email))
        token = unseal(event.sealed_activation_token, settings.seal_key)
        await queue(
            conn,
            envelope,
            event.contact_email,
            AffiliateInvitation(
                affiliate_name=event.name,
                login=event.login,
                activation_link=link_with_token(settings.activation_url, token),
                expires_at=event.activation_expires_at,
            ),
        )

    @service.on(ev.ConventionOtpIssued)
    async def convention_otp_issued(conn, event: ev.ConventionOtpIssued, envelope: Envelope) -> None:
        await store.remember_affiliate(conn, event.affiliate_id, event.name, normalise_recipient(event.contact_email))
        await queue(
            conn,
            envelope,
            event.contact_email,
            ConventionOtp(
                affiliate_name=event.name,
                otp=unseal(event.sealed_otp, settings.seal_key),
                expires_at=event.expires_at,
            ),
        )

    @service.on(ev.ConventionSigned)
    async def convention_signed(conn, event: ev.ConventionSigned, envelope: Envelope) -> None:
        await store.remember_affiliate(conn, event.affiliate_id, event.name, normalise_recipient(event.contact_email))
        await queue(
            conn,
            envelope,
            event.contact_email,
            ConventionSigned(
                affiliate_name=event.name, signed_at=event.signed_at, convention_version=event.convention_version
            ),
        )

    @service.on(ev.PasswordResetRequested)
    async def password_reset_requested(conn, event: ev.PasswordResetRequested, envelope: Envelope) -> None:
        await store.remember_affiliate(conn, event.affiliate_id, None, normalise_recipient(event.contact_email))
        token = unseal(event.sealed_reset_token, settings.seal_key)
        await queue(
            conn,
            envelope,
            event.contact_email,
            PasswordReset(
                login=event.login,
                reset_link=link_with_token(settings.password_reset_url, token),
                expires_at=event.expires_at,
            ),
        )

    @service.on(ev.AffiliateLoginReminded)
    async def affiliate_login_reminded(conn, event: ev.AffiliateLoginReminded, envelope: Envelope) -> None:
        await store.remember_affiliate(conn, event.affiliate_id, event.name, normalise_recipient(event.contact_email))
        await queue(
            conn,
            envelope,
            event.contact_email,
            AffiliateLoginReminder(affiliate_name=event.name, login=event.login, campaign_label=event.campaign_label),
            campaign_id=event.campaign_id,
        )

    @service.on(ev.ReimbursementBatchPaid)
    async def reimbursement_batch_paid(conn, event: ev.ReimbursementBatchPaid, envelope: Envelope) -> None:
        paid_on = event.paid_at.astimezone(PARIS).date()
        for transfer in event.transfers:
            email = normalise_recipient(transfer.contact_email)
            await store.remember_affiliate(conn, transfer.affiliate_id, transfer.name, email)
            await queue(
                conn,
                envelope,
                email,
                ReimbursementPaid(
                    affiliate_name=transfer.name,
                    amount_cents=transfer.amount_cents,
                    ticket_count=transfer.count,
                    paid_on=paid_on,
                ),
                campaign_id=event.campaign_id,
                event_id=message_key(envelope.event_id, transfer.affiliate_id),
            )
