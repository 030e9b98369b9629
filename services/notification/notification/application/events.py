"""What each event tells whom: every event that tells a person something becomes one queued message
(per person told), written in the consumer's transaction with the inbox row, so a redelivered event
is absorbed there; the unique (event_id, template) of the messages holds the line besides.

A secret the event carries sealed (activation token, one-time code, reset token) is unsealed here
only to check it can be printed, then kept sealed beside a body rendered with a placeholder in its
place: see domain/secrets.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from carnet_contracts import events as ev
from carnet_contracts.envelope import Envelope

from ..domain import (
    PARIS,
    AffiliateInvitation,
    AffiliateLoginReminder,
    ApplicationReceived,
    ApplicationRejected,
    Campaign,
    Content,
    ConventionOtp,
    ConventionSigned,
    NewMessage,
    PasswordReset,
    ReimbursementPaid,
    RetentionPolicy,
    SealedSecret,
    SheetRequest,
    TicketsSheet,
    WalletReadiness,
    WalletReady,
    message_key,
    normalise_recipient,
)
from ..rendering import Renderer
from ..store import NotificationUnitOfWork


class Notifier:
    """The use cases of the events the service consumes, one method per event type."""

    def __init__(self, renderer: Renderer, retention: RetentionPolicy, *, activation_url: str,
                 password_reset_url: str, unseal: Callable[[str], str]):
        self.renderer = renderer
        self.retention = retention
        self.activation_url = activation_url
        self.password_reset_url = password_reset_url
        self.unseal = unseal

    # --- what the service learns to address people -----------------------------------------

    async def campaign_published(self, uow: NotificationUnitOfWork, event: ev.CampaignPublished,
                                 envelope: Envelope) -> None:
        campaign = Campaign(event.campaign_id, event.label, event.pass_valid_until, event.reimbursement_deadline)
        async with uow:
            await uow.campaigns.save(campaign)
            await uow.retention.reschedule(campaign.campaign_id, self.retention.forget_at(campaign, envelope.occurred_at))

    async def school_registered(self, uow: NotificationUnitOfWork, event: ev.SchoolRegistered,
                                envelope: Envelope) -> None:
        email = normalise_recipient(event.correspondent_email) if event.correspondent_email else None
        async with uow:
            await uow.people.remember_correspondent(event.school_id, email)

    async def affiliate_activated(self, uow: NotificationUnitOfWork, event: ev.AffiliateActivated,
                                  envelope: Envelope) -> None:
        async with uow:
            await uow.people.set_affiliate_suspended(event.affiliate_id, False)

    async def affiliate_suspended(self, uow: NotificationUnitOfWork, event: ev.AffiliateSuspended,
                                  envelope: Envelope) -> None:
        async with uow:
            await uow.people.set_affiliate_suspended(event.affiliate_id, True)

    # --- families ----------------------------------------------------------------------------

    async def application_submitted(self, uow: NotificationUnitOfWork, event: ev.ApplicationSubmitted,
                                    envelope: Envelope) -> None:
        email = normalise_recipient(event.guardian.email)
        async with uow:
            campaign = await uow.campaigns.get(event.campaign_id)
            until = self.retention.forget_at(campaign, envelope.occurred_at)
            await uow.people.remember_family(event.application_id, event.campaign_id, email, until)
            await self._queue(uow, envelope, email, ApplicationReceived(
                guardian_first_name=event.guardian.first_name,
                guardian_last_name=event.guardian.last_name,
                student_first_name=event.student.first_name,
                student_last_name=event.student.last_name,
                campaign_label=campaign.label if campaign else None,
            ), campaign_id=event.campaign_id)

    async def pass_granted(self, uow: NotificationUnitOfWork, event: ev.PassGranted, envelope: Envelope) -> None:
        email = normalise_recipient(event.guardian.email)
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
        async with uow:
            until = self.retention.forget_at(await uow.campaigns.get(event.campaign_id), envelope.occurred_at)
            await uow.people.remember_family(event.application_id, event.campaign_id, email, until)
            readiness = await uow.readiness.record_grant(
                event.application_id, event.campaign_id, content, email, envelope.event_id, until
            )
            await self._tell_wallet_ready(uow, readiness, envelope)

    async def wallet_created(self, uow: NotificationUnitOfWork, event: ev.WalletCreated, envelope: Envelope) -> None:
        async with uow:
            until = self.retention.forget_at(await uow.campaigns.get(event.campaign_id), envelope.occurred_at)
            readiness = await uow.readiness.record_wallet(
                event.application_id, event.campaign_id, envelope.event_id, until
            )
            await self._tell_wallet_ready(uow, readiness, envelope)

    async def application_rejected(self, uow: NotificationUnitOfWork, event: ev.ApplicationRejected,
                                   envelope: Envelope) -> None:
        async with uow:
            await self._queue(uow, envelope, event.guardian.email, ApplicationRejected(
                guardian_first_name=event.guardian.first_name,
                guardian_last_name=event.guardian.last_name,
                student_first_name=event.student_first_name,
                reason=event.reason,
            ), campaign_id=event.campaign_id)

    async def tickets_email_requested(self, uow: NotificationUnitOfWork, event: ev.TicketsEmailRequested,
                                      envelope: Envelope) -> None:
        positions = tuple(sorted(event.positions))
        async with uow:
            campaign = await uow.campaigns.get(event.campaign_id)
            await self._queue(uow, envelope, event.guardian_email, TicketsSheet(
                positions=positions,
                student_first_name=event.student_first_name,
                pass_valid_until=campaign.pass_valid_until if campaign else None,
            ), campaign_id=event.campaign_id, attachment=SheetRequest(event.wallet_id, positions))

    # --- affiliates --------------------------------------------------------------------------

    async def affiliate_invited(self, uow: NotificationUnitOfWork, event: ev.AffiliateInvited,
                                envelope: Envelope) -> None:
        secret = self._checked(SealedSecret.link(event.sealed_activation_token, self.activation_url))
        content = AffiliateInvitation(affiliate_name=event.name, login=event.login, activation_link=secret.placeholder,
                                      expires_at=event.activation_expires_at)
        async with uow:
            await self._tell_affiliate(uow, envelope, event.affiliate_id, event.name, event.contact_email, content,
                                       secret=secret)

    async def convention_otp_issued(self, uow: NotificationUnitOfWork, event: ev.ConventionOtpIssued,
                                    envelope: Envelope) -> None:
        secret = self._checked(SealedSecret.code(event.sealed_otp))
        content = ConventionOtp(affiliate_name=event.name, otp=secret.placeholder, expires_at=event.expires_at)
        async with uow:
            await self._tell_affiliate(uow, envelope, event.affiliate_id, event.name, event.contact_email, content,
                                       secret=secret)

    async def convention_signed(self, uow: NotificationUnitOfWork, event: ev.ConventionSigned,
                                envelope: Envelope) -> None:
        content = ConventionSigned(affiliate_name=event.name, signed_at=event.signed_at,
                                   convention_version=event.convention_version)
        async with uow:
            await self._tell_affiliate(uow, envelope, event.affiliate_id, event.name, event.contact_email, content)

    async def password_reset_requested(self, uow: NotificationUnitOfWork, event: ev.PasswordResetRequested,
                                       envelope: Envelope) -> None:
        secret = self._checked(SealedSecret.link(event.sealed_reset_token, self.password_reset_url))
        content = PasswordReset(login=event.login, reset_link=secret.placeholder, expires_at=event.expires_at)
        async with uow:
            await self._tell_affiliate(uow, envelope, event.affiliate_id, None, event.contact_email, content,
                                       secret=secret)

    async def affiliate_login_reminded(self, uow: NotificationUnitOfWork, event: ev.AffiliateLoginReminded,
                                       envelope: Envelope) -> None:
        content = AffiliateLoginReminder(affiliate_name=event.name, login=event.login,
                                         campaign_label=event.campaign_label)
        async with uow:
            await self._tell_affiliate(uow, envelope, event.affiliate_id, event.name, event.contact_email, content,
                                       campaign_id=event.campaign_id)

    async def reimbursement_batch_paid(self, uow: NotificationUnitOfWork, event: ev.ReimbursementBatchPaid,
                                       envelope: Envelope) -> None:
        paid_on = event.paid_at.astimezone(PARIS).date()
        async with uow:
            for transfer in event.transfers:
                content = ReimbursementPaid(affiliate_name=transfer.name, amount_cents=transfer.amount_cents,
                                            ticket_count=transfer.count, paid_on=paid_on)
                await self._tell_affiliate(uow, envelope, transfer.affiliate_id, transfer.name, transfer.contact_email,
                                           content, campaign_id=event.campaign_id,
                                           event_id=message_key(envelope.event_id, transfer.affiliate_id))

    # --- shared steps ------------------------------------------------------------------------

    def _checked(self, secret: SealedSecret) -> SealedSecret:
        """The secret, once known to unseal and print (else the event is refused and goes to the
        dead-letter topic); its clear value is dropped at once."""
        secret.printed(self.unseal(secret.sealed))
        return secret

    async def _tell_affiliate(self, uow: NotificationUnitOfWork, envelope: Envelope, affiliate_id: str,
                              name: str | None, contact_email: str, content: Content, **queued) -> None:
        """Remember the affiliate's contact (for broadcasts), and queue the message to it."""
        email = normalise_recipient(contact_email)
        await uow.people.remember_affiliate(affiliate_id, name, email)
        await self._queue(uow, envelope, email, content, **queued)

    async def _tell_wallet_ready(self, uow: NotificationUnitOfWork, readiness: WalletReadiness,
                                 envelope: Envelope) -> None:
        if not readiness.complete:
            return  # the other half has not arrived yet
        await self._queue(uow, envelope, readiness.recipient, readiness.granted,
                          campaign_id=readiness.campaign_id, event_id=readiness.wallet_event_id)

    async def _queue(self, uow: NotificationUnitOfWork, envelope: Envelope, recipient: str, content: Content, *,
                     campaign_id: str | None = None, event_id: uuid.UUID | None = None,
                     attachment: SheetRequest | None = None, secret: SealedSecret | None = None) -> None:
        campaign_id = campaign_id or envelope.campaign_id
        campaign = await uow.campaigns.get(campaign_id)
        await uow.messages.add(NewMessage(
            event_id=event_id or envelope.event_id,
            template=content.template,
            recipient=normalise_recipient(recipient),
            rendered=self.renderer.render(content),
            forget_at=self.retention.forget_at(campaign, envelope.occurred_at),
            campaign_id=campaign_id,
            source_event_id=envelope.event_id,
            attachment=attachment,
            secret=secret,
        ))
