"""What enrolment, the wallet and the redemption service tell families and schools' correspondents
through this service: one method per event consumed, each in one NotificationUnitOfWork.

The service keeps its own copies of what it needs to address them: application_id -> guardian's
address (ApplicationSubmitted, PassGranted), wallet_id -> guardian's address and the pupil's first
name (WalletCreated), schools' correspondents (SchoolRegistered). An event about a wallet it does not
know (its WalletCreated never came, or the family's data was erased or purged) tells no one.
"""

from __future__ import annotations

import logging

from carnet_contracts import events as ev
from carnet_contracts.envelope import Envelope

from ..domain import (
    About,
    ApplicationReceived,
    ApplicationRejected,
    Campaign,
    CorrespondentDigest,
    FamilyCopy,
    PassExpiryReminder,
    SheetRequest,
    TicketRedeemed,
    TicketReplaceRefused,
    TicketsSheet,
    WaitingLine,
    WalletCopy,
    WalletReadiness,
    WalletReady,
    fact_key,
    normalise_recipient,
    paris_day,
    waiting_days,
)
from ..store import NotificationUnitOfWork
from .notices import Notices

log = logging.getLogger(__name__)


class FamilyNotices(Notices):
    """The use cases of enrolment's, the wallet's and the redemption service's events."""

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

    # --- enrolment -----------------------------------------------------------------------------
    # ApplicationSubmitted, PassGranted, ApplicationRejected: version 2, and version 1 still on the
    # topic; both carry every field read here.

    async def application_submitted(self, uow: NotificationUnitOfWork,
                                    event: ev.ApplicationSubmitted | ev.ApplicationSubmittedV1,
                                    envelope: Envelope) -> None:
        family = FamilyCopy(event.application_id, event.campaign_id, normalise_recipient(event.guardian.email),
                            event.family_sub)
        async with uow:
            campaign = await uow.campaigns.get(event.campaign_id)
            await uow.people.remember_family(family, self.retention.forget_at(campaign, envelope.occurred_at))
            await self._queue(uow, envelope, family.guardian_email, ApplicationReceived(
                guardian_first_name=event.guardian.first_name,
                guardian_last_name=event.guardian.last_name,
                student_first_name=event.student.first_name,
                student_last_name=event.student.last_name,
                campaign_label=campaign.label if campaign else None,
            ), campaign_id=event.campaign_id, about=family.about)

    async def pass_granted(self, uow: NotificationUnitOfWork, event: ev.PassGranted | ev.PassGrantedV1,
                           envelope: Envelope) -> None:
        family = FamilyCopy(event.application_id, event.campaign_id, normalise_recipient(event.guardian.email),
                            event.family_sub)
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
            await uow.people.remember_family(family, until)
            readiness = await uow.readiness.record_grant(
                event.application_id, event.campaign_id, content, family.guardian_email, envelope.event_id, until
            )
            await self._tell_wallet_ready(uow, readiness, envelope)

    async def application_rejected(self, uow: NotificationUnitOfWork,
                                   event: ev.ApplicationRejected | ev.ApplicationRejectedV1,
                                   envelope: Envelope) -> None:
        async with uow:
            await self._queue(uow, envelope, event.guardian.email, ApplicationRejected(
                guardian_first_name=event.guardian.first_name,
                guardian_last_name=event.guardian.last_name,
                student_first_name=event.student_first_name,
                reason=event.reason,
            ), campaign_id=event.campaign_id, about=About.of([event.application_id], family_subs=[event.family_sub]))

    async def correspondent_digest_due(self, uow: NotificationUnitOfWork, event: ev.CorrespondentDigestDue,
                                       envelope: Envelope) -> None:
        """The week's files waiting for the correspondent, oldest first, with their age (once per digest)."""
        files = sorted(event.waiting, key=lambda f: f.submitted_at)
        content = CorrespondentDigest(
            school_name=event.school_name,
            total_waiting=event.total_waiting,
            waiting=tuple(WaitingLine(f.student_last_name, f.student_first_name, f.channel,
                                      paris_day(f.submitted_at), waiting_days(f.submitted_at, event.due_at))
                          for f in files),
            oldest_waiting_days=waiting_days(event.oldest_submitted_at, event.due_at),
        )
        application_ids = [f.application_id for f in files]
        async with uow:
            about = About.of(application_ids, family_subs=await uow.people.family_subs_of(application_ids))
            campaign_id = envelope.campaign_id or await uow.people.campaign_of_applications(application_ids)
            await self._queue(uow, envelope, event.correspondent_email, content, campaign_id=campaign_id,
                              event_id=fact_key("digest", event.digest_id), about=about)

    # --- the wallet ----------------------------------------------------------------------------

    async def wallet_created(self, uow: NotificationUnitOfWork, event: ev.WalletCreated, envelope: Envelope) -> None:
        wallet = WalletCopy(event.wallet_id, event.application_id, event.campaign_id,
                            normalise_recipient(event.guardian_email), event.student_first_name, event.family_sub)
        async with uow:
            until = self.retention.forget_at(await uow.campaigns.get(event.campaign_id), envelope.occurred_at)
            await uow.people.remember_wallet(wallet, until)
            readiness = await uow.readiness.record_wallet(
                event.application_id, event.campaign_id, envelope.event_id, until
            )
            await self._tell_wallet_ready(uow, readiness, envelope)

    async def tickets_email_requested(self, uow: NotificationUnitOfWork, event: ev.TicketsEmailRequested,
                                      envelope: Envelope) -> None:
        """The sheet the family asked for, or the new one after a replacement: attached at send time as
        the wallet kept it when asked (`request_id`)."""
        positions = tuple(sorted(event.positions))
        async with uow:
            campaign = await uow.campaigns.get(event.campaign_id)
            wallet = await uow.people.wallet(event.wallet_id)
            await self._queue(uow, envelope, event.guardian_email, TicketsSheet(
                positions=positions,
                student_first_name=event.student_first_name,
                pass_valid_until=campaign.pass_valid_until if campaign else None,
                replaced=event.reason == "replaced",
            ), campaign_id=event.campaign_id,
                attachment=SheetRequest(event.wallet_id, positions, request_id=event.request_id),
                about=_about_wallet(event.wallet_id, wallet))

    async def pass_expiry_reminder_due(self, uow: NotificationUnitOfWork, event: ev.PassExpiryReminderDue,
                                       envelope: Envelope) -> None:
        content = PassExpiryReminder(student_first_name=event.student_first_name, valid_until=event.valid_until,
                                     credited_unspent_cents=event.credited_unspent_cents,
                                     remaining_cents=event.remaining_cents)
        async with uow:
            wallet = await uow.people.wallet(event.wallet_id)
            await self._queue(uow, envelope, event.guardian_email, content, campaign_id=event.campaign_id,
                              event_id=fact_key("expiry", event.wallet_id), about=_about_wallet(event.wallet_id, wallet))

    # --- the redemption service ----------------------------------------------------------------

    async def ticket_redeemed(self, uow: NotificationUnitOfWork, event: ev.TicketRedeemed, envelope: Envelope) -> None:
        """The family is told which organisation took a ticket, how much, when: once per redemption."""
        async with uow:
            wallet = await uow.people.wallet(event.wallet_id)
            if wallet is None:
                log.info("ticket redeemed on a wallet unknown here: no one to tell", extra={"event": "TicketRedeemed"})
                return
            name, _ = await uow.people.affiliate(event.affiliate_id)
            content = TicketRedeemed(student_first_name=wallet.student_first_name, affiliate_name=name,
                                     amount_cents=event.amount_cents, redeemed_at=event.redeemed_at,
                                     code_suffix=event.code_suffix)
            await self._queue(uow, envelope, wallet.guardian_email, content, campaign_id=event.campaign_id,
                              event_id=fact_key("redemption", event.redemption_id), about=wallet.about)

    async def ticket_replace_refused(self, uow: NotificationUnitOfWork, event: ev.TicketReplaceRefused,
                                     envelope: Envelope) -> None:
        """The ticket declared lost had been used before it could be replaced: it stays used."""
        async with uow:
            wallet = await uow.people.wallet(event.wallet_id)
            if wallet is None:
                log.info("replacement refused on a wallet unknown here: no one to tell",
                         extra={"event": "TicketReplaceRefused"})
                return
            name, _ = await uow.people.affiliate(event.affiliate_id)
            content = TicketReplaceRefused(student_first_name=wallet.student_first_name, affiliate_name=name,
                                           redeemed_at=event.redeemed_at)
            await self._queue(uow, envelope, wallet.guardian_email, content, campaign_id=event.campaign_id,
                              about=wallet.about)

    # --- shared steps ------------------------------------------------------------------------

    async def _tell_wallet_ready(self, uow: NotificationUnitOfWork, readiness: WalletReadiness,
                                 envelope: Envelope) -> None:
        if not readiness.complete:
            return  # the other half has not arrived yet
        wallet = await uow.people.wallet_of_application(readiness.application_id)
        about = About.of([readiness.application_id]) | (wallet.about if wallet else About())
        await self._queue(uow, envelope, readiness.recipient, readiness.granted,
                          campaign_id=readiness.campaign_id, event_id=readiness.wallet_event_id, about=about)


def _about_wallet(wallet_id: str, wallet: WalletCopy | None) -> About:
    return About.of(wallet_ids=[wallet_id]) | (wallet.about if wallet else About())
