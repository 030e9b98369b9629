"""A family's rights and the purge after the season (issue 13), and the delivery figures.

- A campaign's purge (CampaignPurgeStarted, through the runtime's hook, in its transaction): the
  campaign's messages lose recipients, bodies, attachments, sealed secrets and the personal parts of
  their subjects; its copies of guardians' addresses go. Template, state, attempts and dates stay, so
  the figures (`GET /v1/stats`) come out the same.
- A family's erasure (GuardianErasureRequested): every message about those applications, wallets and
  family accounts, or written to the addresses kept for them, likewise; the copies go.
- A person's export: the messages written to them (subject, template, dates, delivery state, body as
  the log keeps it) and those written to someone else about them (without body); the copies kept.
"""

from __future__ import annotations

import logging
from datetime import datetime

from carnet_contracts.events import CampaignPurgeStarted, GuardianErasureRequested
from carnet_runtime import invalid_fields
from carnet_runtime.auth import Principal

from ..domain import About, MessageFigures, PersonalExport, export_of, normalise_recipient
from ..store import NotificationUnitOfWork

log = logging.getLogger(__name__)


async def purge_campaign(uow: NotificationUnitOfWork, event: CampaignPurgeStarted, now: datetime) -> int:
    """This service's share of the campaign's purge. The number of messages anonymised."""
    async with uow:
        anonymised = await uow.privacy.purge_campaign(event.campaign_id, now)
    log.info("campaign purged", extra={"campaign_id": event.campaign_id, "messages": anonymised})
    return anonymised


async def erase(uow: NotificationUnitOfWork, event: GuardianErasureRequested, now: datetime) -> int:
    """What this service holds about a family that asked to be erased. The number of messages anonymised."""
    about = About.of(event.application_ids, event.wallet_ids, event.family_subs)
    async with uow:
        erased = await uow.privacy.erase(about, now)
    log.info("family's data erased", extra={"erasure_id": event.erasure_id, "messages": erased})
    return erased


async def export(uow: NotificationUnitOfWork, principal: Principal, email: str | None,
                 now: datetime) -> PersonalExport:
    """A family: what is held about its own account (`email` is not theirs to choose). The admin: what is
    held about the guardian with that address (required)."""
    if principal.role == "family":
        family_sub, address = principal.sub, None
    else:
        if email is None or not email.strip():
            raise invalid_fields({"email": "champ obligatoire"})
        family_sub, address = None, normalise_recipient(email, field="email")
    async with uow:
        person = await uow.privacy.person(family_sub=family_sub, email=address)
        messages = await uow.privacy.messages_of(person)
        copies = await uow.privacy.copies_of(person)
    return PersonalExport(family_sub=family_sub, email=address, generated_at=now,
                          messages=export_of(person, messages), copies=tuple(copies))


async def figures(uow: NotificationUnitOfWork, campaign_id: str | None) -> MessageFigures:
    """Messages by template and delivery state, and attempts: for one campaign, or all."""
    async with uow:
        return await uow.privacy.figures(campaign_id)
