"""Purge after the season, and a person's rights (issue 13).

- A campaign's purge, once its reimbursement deadline plus its retention has passed (the periodic
  check, or the admin's request): CampaignPurgeStarted announced once, and enrolment's share done in
  the same transaction: the campaign's applications anonymised (status, dates, school, level, channel
  and history kept, so that its figures do not move), its rosters deleted.
- A guardian's erasure: their applications anonymised the same way, the roster lines about those
  children deleted, the sent outbox rows about them forgotten, and GuardianErasureRequested tells
  every other service which applications, wallets, family accounts and campaigns to erase.
- A person's export: everything enrolment holds about a family (by its account) or a guardian (by
  e-mail address), with its history.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from carnet_contracts.events import CampaignPurgeStarted, GuardianErasureRequested
from carnet_runtime import invalid_fields
from carnet_runtime.auth import Principal, forbidden

from ..domain import CampaignPurge, Erasure, PrivacyExport, deliverable_email
from ..store import EnrolmentUnitOfWork
from .common import unknown_campaign

SCHEDULE = "schedule"  # who asked for a purge the periodic check found due


@dataclass(frozen=True)
class PurgeCampaign:
    campaign_id: str
    requested_by: str  # "admin" or SCHEDULE


@dataclass(frozen=True)
class EraseGuardian:
    email: str | None


def _address(email: str | None) -> str:
    """The address a person is looked up by, normalised like the stored ones; 422 naming `email`."""
    if email is None or not email.strip():
        raise invalid_fields({"email": "champ obligatoire"})
    normalised, problem = deliverable_email(email)
    if problem:
        raise invalid_fields({"email": problem})
    assert normalised is not None
    return normalised


async def purge_campaign(uow: EnrolmentUnitOfWork, command: PurgeCampaign, *, now: datetime) -> CampaignPurge:
    """Announces the campaign's purge once and does enrolment's share with it; asked again, answers the
    purge already done. Refused before reimbursement_deadline + data_retention_days (PURGE_NOT_DUE)."""
    async with uow:
        campaign = await uow.campaigns.get(command.campaign_id, for_update=True)  # one purge at a time
        if campaign is None:
            raise unknown_campaign(command.campaign_id)
        done = await uow.purges.of_campaign(campaign.campaign_id)
        if done is not None:
            return done
        campaign.check_purge_due(now)
        anonymised = await uow.applications.anonymise_campaign(campaign.campaign_id, at=now)
        deleted = await uow.rosters.delete_campaign(campaign.campaign_id)
        await uow.privacy.forget_digests_of_campaign(campaign.campaign_id)
        purge = CampaignPurge(str(uuid.uuid4()), campaign.campaign_id, purge_before=now, announced_at=now,
                              requested_by=command.requested_by, applications_anonymised=anonymised,
                              roster_entries_deleted=deleted)
        await uow.purges.add(purge)
        uow.publish(CampaignPurgeStarted(campaign_id=campaign.campaign_id, purge_id=purge.purge_id,
                                         purge_before=now, announced_at=now))
    return purge


async def purge_due_campaigns(uow: EnrolmentUnitOfWork, *, now: datetime) -> list[CampaignPurge]:
    """The periodic check: every campaign whose purge is due and not yet done, each in its own transaction."""
    async with uow:
        purged = await uow.purges.by_campaign()
        due = [c.campaign_id for c in await uow.campaigns.list() if c.campaign_id not in purged and c.purge_due(now)]
    return [await purge_campaign(uow, PurgeCampaign(campaign_id, SCHEDULE), now=now) for campaign_id in due]


async def erase_guardian(uow: EnrolmentUnitOfWork, actor: Principal, command: EraseGuardian, *,
                         now: datetime) -> Erasure:
    """Erases what enrolment holds about the guardian with that address (and the family accounts they
    applied from) and tells the other services. An address enrolment does not know erases nothing and
    publishes nothing; the answer (to the admin only) then lists nothing."""
    email = _address(command.email)
    async with uow:
        found = await uow.applications.of_guardian(email)
        ids = tuple(a.application_id for a in found)
        erasure = Erasure(
            erasure_id=str(uuid.uuid4()), requested_at=now, application_ids=ids,
            wallet_ids=tuple(dict.fromkeys(a.progress.wallet_id for a in found if a.progress.wallet_id)),
            family_subs=tuple(dict.fromkeys(a.family_sub for a in found if a.family_sub)),
            campaign_ids=tuple(dict.fromkeys(a.form.campaign_id for a in found)),
        )
        if ids:
            await uow.rosters.delete_students(ids)  # while the applications still hold the key that finds them
            await uow.applications.anonymise(ids, at=now)
            await uow.privacy.forget_sent_events(ids)
            uow.publish(GuardianErasureRequested(
                erasure_id=erasure.erasure_id, application_ids=list(ids), wallet_ids=list(erasure.wallet_ids),
                family_subs=list(erasure.family_subs), campaign_ids=list(erasure.campaign_ids), requested_at=now,
            ))
        await uow.privacy.record_erasure(erasure, requested_by=actor.sub)
    return erasure


async def export(uow: EnrolmentUnitOfWork, actor: Principal, email: str | None, *, now: datetime) -> PrivacyExport:
    """A family: what enrolment holds about its own account. The admin: about the guardian with that
    address, online or on paper."""
    if actor.role == "family":
        family_sub, address = actor.sub, None
    elif actor.role == "admin":
        family_sub, address = None, _address(email)
    else:
        raise forbidden()
    async with uow:
        records = await uow.applications.records(family_sub=family_sub, email=address)
        roster = await uow.rosters.of_applications([r.application.application_id for r in records])
    return PrivacyExport(family_sub, address, now, tuple(records), tuple(roster))
