"""What the affiliation and redemption services tell organisations through this service: one method per
event consumed, each in one NotificationUnitOfWork.

The contact-bearing events come on affiliation.notices (version 2), which this service alone reads;
their version 1 on affiliation.affiliates reach the same methods for the messages already there. The
service keeps affiliate_id -> name (AffiliateActivated, the notices) and contact address (the notices;
AffiliateContactChanged moves it), for the broadcasts and for the organisation told of a staff
cancellation.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from carnet_contracts import events as ev
from carnet_contracts.envelope import Envelope

from ..domain import (
    PARIS,
    About,
    AffiliateContactChanged,
    AffiliateIbanChanged,
    AffiliateInvitation,
    AffiliateLoginReminder,
    Content,
    ConventionOtp,
    ConventionSigned,
    IbanChangeOtp,
    PasswordReset,
    RedemptionCancelled,
    ReimbursementPaid,
    RetentionPolicy,
    SealedSecret,
    fact_key,
    normalise_recipient,
)
from ..rendering import Renderer
from ..store import NotificationUnitOfWork
from .notices import Notices

log = logging.getLogger(__name__)


class AffiliateNotices(Notices):
    """The use cases of the affiliation service's events, and of a staff cancellation."""

    def __init__(self, renderer: Renderer, retention: RetentionPolicy, *, activation_url: str,
                 password_reset_url: str, unseal: Callable[[str], str]):
        super().__init__(renderer, retention, unseal=unseal)
        self.activation_url = activation_url
        self.password_reset_url = password_reset_url

    # --- what the service learns -----------------------------------------------------------------

    async def affiliate_activated(self, uow: NotificationUnitOfWork, event: ev.AffiliateActivated,
                                  envelope: Envelope) -> None:
        async with uow:
            await uow.people.affiliate_activated(event.affiliate_id, event.name)

    async def affiliate_suspended(self, uow: NotificationUnitOfWork, event: ev.AffiliateSuspended,
                                  envelope: Envelope) -> None:
        async with uow:
            await uow.people.affiliate_suspended(event.affiliate_id)

    # --- affiliation.notices (and their version 1 on affiliation.affiliates) ---------------------

    async def affiliate_invited(self, uow: NotificationUnitOfWork, event: ev.AffiliateInvited | ev.AffiliateInvitedV1,
                                envelope: Envelope) -> None:
        secret = self._checked(SealedSecret.link(event.sealed_activation_token, self.activation_url))
        content = AffiliateInvitation(affiliate_name=event.name, login=event.login, activation_link=secret.placeholder,
                                      expires_at=event.activation_expires_at)
        async with uow:
            await self._tell_affiliate(uow, envelope, event.affiliate_id, event.name, event.contact_email, content,
                                       secret=secret)

    async def convention_otp_issued(self, uow: NotificationUnitOfWork,
                                    event: ev.ConventionOtpIssued | ev.ConventionOtpIssuedV1, envelope: Envelope) -> None:
        secret = self._checked(SealedSecret.code(event.sealed_otp))
        content = ConventionOtp(affiliate_name=event.name, otp=secret.placeholder, expires_at=event.expires_at)
        async with uow:
            await self._tell_affiliate(uow, envelope, event.affiliate_id, event.name, event.contact_email, content,
                                       secret=secret)

    async def convention_signed(self, uow: NotificationUnitOfWork,
                                event: ev.ConventionSigned | ev.ConventionSignedV1, envelope: Envelope) -> None:
        content = ConventionSigned(affiliate_name=event.name, signed_at=event.signed_at,
                                   convention_version=event.convention_version)
        async with uow:
            await self._tell_affiliate(uow, envelope, event.affiliate_id, event.name, event.contact_email, content)

    async def password_reset_requested(self, uow: NotificationUnitOfWork,
                                       event: ev.PasswordResetRequested | ev.PasswordResetRequestedV1,
                                       envelope: Envelope) -> None:
        secret = self._checked(SealedSecret.link(event.sealed_reset_token, self.password_reset_url))
        content = PasswordReset(login=event.login, reset_link=secret.placeholder, expires_at=event.expires_at)
        async with uow:
            await self._tell_affiliate(uow, envelope, event.affiliate_id, None, event.contact_email, content,
                                       secret=secret)

    async def affiliate_login_reminded(self, uow: NotificationUnitOfWork,
                                       event: ev.AffiliateLoginReminded | ev.AffiliateLoginRemindedV1,
                                       envelope: Envelope) -> None:
        content = AffiliateLoginReminder(affiliate_name=event.name, login=event.login,
                                         campaign_label=event.campaign_label)
        async with uow:
            await self._tell_affiliate(uow, envelope, event.affiliate_id, event.name, event.contact_email, content,
                                       campaign_id=event.campaign_id)

    async def iban_change_otp_issued(self, uow: NotificationUnitOfWork, event: ev.IbanChangeOtpIssued,
                                     envelope: Envelope) -> None:
        """The code that confirms an IBAN change, to the current contact: sealed until sent, like the others."""
        secret = self._checked(SealedSecret.code(event.sealed_otp))
        content = IbanChangeOtp(affiliate_name=event.name, otp=secret.placeholder,
                                new_iban_suffix=event.new_iban_suffix, expires_at=event.expires_at)
        async with uow:
            await self._tell_affiliate(uow, envelope, event.affiliate_id, event.name, event.contact_email, content,
                                       secret=secret)

    async def affiliate_iban_changed(self, uow: NotificationUnitOfWork, event: ev.AffiliateIbanChanged,
                                     envelope: Envelope) -> None:
        content = AffiliateIbanChanged(affiliate_name=event.name, iban_suffix=event.iban_suffix,
                                       changed_at=event.changed_at)
        async with uow:
            await self._tell_affiliate(uow, envelope, event.affiliate_id, event.name, event.contact_email, content)

    async def affiliate_contact_changed(self, uow: NotificationUnitOfWork, event: ev.AffiliateContactChanged,
                                        envelope: Envelope) -> None:
        """The new address is the contact from now on; the OLD one is told (it may not have asked)."""
        new_contact = normalise_recipient(event.new_contact_email)
        content = AffiliateContactChanged(affiliate_name=event.name, new_contact_email=new_contact,
                                          changed_at=event.changed_at)
        async with uow:
            await uow.people.remember_affiliate(event.affiliate_id, event.name, new_contact)
            await self._queue(uow, envelope, event.old_contact_email, content)

    async def reimbursement_transfer_sent(self, uow: NotificationUnitOfWork, event: ev.ReimbursementTransferSent,
                                          envelope: Envelope) -> None:
        content = ReimbursementPaid(affiliate_name=event.name, amount_cents=event.amount_cents,
                                    ticket_count=event.count, paid_on=event.paid_at.astimezone(PARIS).date())
        async with uow:
            await self._tell_affiliate(uow, envelope, event.affiliate_id, event.name, event.contact_email, content,
                                       campaign_id=event.campaign_id,
                                       event_id=fact_key("transfer", f"{event.batch_id}:{event.affiliate_id}"))

    # --- affiliation.reimbursements ----------------------------------------------------------------

    async def reimbursement_batch_paid(self, uow: NotificationUnitOfWork,
                                       event: ev.ReimbursementBatchPaid | ev.ReimbursementBatchPaidV1,
                                       envelope: Envelope) -> None:
        """Version 1 carried each transfer's contact: each affiliate is told here. Version 2 carries none:
        each is told by its ReimbursementTransferSent on the notices topic (same message key)."""
        paid_on = event.paid_at.astimezone(PARIS).date()
        async with uow:
            for transfer in event.transfers:
                contact = getattr(transfer, "contact_email", None)
                if contact is None:
                    continue
                content = ReimbursementPaid(affiliate_name=transfer.name, amount_cents=transfer.amount_cents,
                                            ticket_count=transfer.count, paid_on=paid_on)
                await self._tell_affiliate(uow, envelope, transfer.affiliate_id, transfer.name, contact, content,
                                           campaign_id=event.campaign_id,
                                           event_id=fact_key("transfer", f"{event.batch_id}:{transfer.affiliate_id}"))

    # --- redemption.redemptions --------------------------------------------------------------------

    async def redemption_cancelled(self, uow: NotificationUnitOfWork, event: ev.RedemptionCancelled,
                                   envelope: Envelope) -> None:
        """A late cancellation by the département's staff: the organisation is told why, how much, and
        what became of the ticket. Its own cancellation within the grace period tells no one."""
        if event.cancelled_by_role != "admin":
            return
        async with uow:
            name, contact = await uow.people.affiliate(event.affiliate_id)
            if contact is None:
                log.info("redemption cancelled by staff for an organisation whose contact is unknown here",
                         extra={"event": "RedemptionCancelled"})
                return
            wallet = await uow.people.wallet(event.wallet_id)
            content = RedemptionCancelled(affiliate_name=name, amount_cents=event.amount_cents, reason=event.reason,
                                          then=event.then, cancelled_at=event.cancelled_at)
            await self._queue(uow, envelope, contact, content, campaign_id=event.campaign_id,
                              event_id=fact_key("cancellation", event.redemption_id),
                              about=About.of(wallet_ids=[event.wallet_id]) | (wallet.about if wallet else About()))

    # --- shared steps ------------------------------------------------------------------------

    async def _tell_affiliate(self, uow: NotificationUnitOfWork, envelope: Envelope, affiliate_id: str,
                              name: str | None, contact_email: str, content: Content, **queued) -> None:
        """Remember the affiliate's contact (for broadcasts and later notices), and queue the message to it."""
        email = normalise_recipient(contact_email)
        await uow.people.remember_affiliate(affiliate_id, name, email)
        await self._queue(uow, envelope, email, content, **queued)
