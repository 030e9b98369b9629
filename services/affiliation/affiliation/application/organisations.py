"""Organisations: affiliation by staff, the activation link, the directory, their details, suspension."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from carnet_contracts import events
from carnet_contracts.envelope import Event
from carnet_runtime.auth import Principal, forbidden

from ..domain.account import TokenPurpose
from ..domain.convention import AuditRecord
from ..domain.keyed_hash import KeyedHash
from ..domain.organisation import (
    REINSTATE,
    SUSPEND,
    Address,
    Affiliate,
    AffiliateStatus,
    StatusChange,
    bic_for,
    change_details,
    duplicate_siret,
    new_login,
    register_organisation,
)
from .common import (
    ActOnAffiliate,
    Clock,
    Seal,
    UnitOfWork,
    activated_event,
    addressee,
    ensure_own,
    load,
    stored_token,
    utc_now,
)

log = logging.getLogger(__name__)

# A login drawn twice (28 million per name) is drawn again; this many times is never reached.
LOGIN_DRAWS = 5


@dataclass(frozen=True)
class CreateAffiliate:
    name: str
    siret: str
    activity: str
    address: Address
    contact_email: str
    iban: str


@dataclass(frozen=True)
class DirectoryQuery:
    actor: Principal
    city: str | None = None
    activity: str | None = None
    text: str | None = None
    status: str = AffiliateStatus.ACTIVE.value
    limit: int = 100
    offset: int = 0


@dataclass(frozen=True)
class ChangeStatus(ActOnAffiliate):
    """Staff suspend or reinstate an organisation; recorded in the audit trail with who and from where."""

    reason: str | None = None


@dataclass(frozen=True)
class ChangeDetails(ActOnAffiliate):
    """The organisation or staff change its contact e-mail, postal address or activity (None: unchanged)."""

    contact_email: str | None = None
    address: Address | None = None
    activity: str | None = None


class Organisations:
    def __init__(self, *, keyed: KeyedHash, seal: Seal, activation_ttl: timedelta, clock: Clock = utc_now) -> None:
        self.keyed = keyed
        self.seal = seal
        self.activation_ttl = activation_ttl
        self.clock = clock

    async def create(self, uow: UnitOfWork, command: CreateAffiliate) -> Affiliate:
        organisation = register_organisation(
            name=command.name, siret=command.siret, activity=command.activity, address=command.address,
            contact_email=command.contact_email, iban=command.iban,
        )
        now = self.clock()
        affiliate_id = str(uuid.uuid4())
        async with uow:
            if await uow.affiliates.siret_taken(organisation.siret):
                raise duplicate_siret()
            for _ in range(LOGIN_DRAWS):
                login = new_login(organisation.name)
                affiliate = Affiliate(affiliate_id, organisation, bic_for(organisation.iban), login, created_at=now)
                if await uow.affiliates.add(affiliate):
                    break
                # the same organisation created at the same moment by someone else, or a login drawn twice
                if await uow.affiliates.siret_taken(organisation.siret):
                    raise duplicate_siret()
            else:
                raise RuntimeError("no free login after several draws")
            await self._invite(uow, affiliate, now)
        log.info("affiliate invited", extra={"affiliate_id": affiliate_id})
        return affiliate

    async def reinvite(self, uow: UnitOfWork, affiliate_id: str) -> Affiliate:
        """A new activation link when the first one expired or was lost; the earlier link stops working."""
        async with uow:
            affiliate = await load(uow, affiliate_id, for_update=True)
            affiliate.reinvitable()
            await self._invite(uow, affiliate, self.clock())
        return affiliate

    async def _invite(self, uow: UnitOfWork, affiliate: Affiliate, now: datetime) -> None:
        issued = await stored_token(uow, self.keyed, affiliate.affiliate_id, TokenPurpose.ACTIVATION,
                                    self.activation_ttl, now)
        uow.publish(events.AffiliateInvited(**addressee(affiliate), login=affiliate.login,
                                            sealed_activation_token=self.seal(issued.clear),
                                            activation_expires_at=issued.expires_at))

    async def directory(self, uow: UnitOfWork, query: DirectoryQuery) -> list[Affiliate]:
        """The active organisations families choose from; staff may list the other statuses."""
        if query.status != AffiliateStatus.ACTIVE.value and query.actor.role != "admin":
            raise forbidden("Seuls les organismes affiliés actifs sont consultables.")
        # a typed %, _ or \ must not act as LIKE syntax
        text = query.text.translate(str.maketrans("%_\\", "   ")).strip() if query.text else None
        async with uow:
            return await uow.affiliates.directory(
                city=query.city.strip() if query.city else None, activity=query.activity, text=text or None,
                status=query.status, limit=query.limit, offset=query.offset,
            )

    async def get(self, uow: UnitOfWork, actor: Principal, affiliate_id: str) -> Affiliate:
        ensure_own(actor, affiliate_id, admin_too=True)
        async with uow:
            return await load(uow, affiliate_id)

    async def change_details(self, uow: UnitOfWork, command: ChangeDetails) -> Affiliate:
        """The details changed, recorded in the audit trail (which fields, by whom, from where); a new
        contact address tells the old one (AffiliateContactChanged)."""
        ensure_own(command.actor, command.affiliate_id, admin_too=True)
        now = self.clock()
        async with uow:
            affiliate = await load(uow, command.affiliate_id, for_update=True)
            change = change_details(affiliate.organisation, contact_email=command.contact_email,
                                    address=command.address, activity=command.activity)
            if not change.fields:
                return affiliate
            affiliate = affiliate.with_details(change)
            await uow.affiliates.save_details(affiliate, now)
            await uow.audit.append(AuditRecord(
                affiliate.affiliate_id, "details_change", command.actor.sub, command.client_address, now, None, None,
                {"fields": list(change.fields), "role": command.actor.role}))
            if change.contact_changed:
                uow.publish(events.AffiliateContactChanged(
                    affiliate_id=affiliate.affiliate_id, name=affiliate.name,
                    old_contact_email=change.old_contact_email, new_contact_email=affiliate.contact_email,
                    changed_at=now))
        log.info("affiliate details changed", extra={"affiliate_id": affiliate.affiliate_id,
                                                      "fields": ",".join(change.fields)})
        return affiliate

    async def suspend(self, uow: UnitOfWork, command: ChangeStatus) -> Affiliate:
        return await self._change_status(uow, command, SUSPEND, lambda affiliate, now: events.AffiliateSuspended(
            affiliate_id=affiliate.affiliate_id, reason=command.reason, suspended_at=now))

    async def reinstate(self, uow: UnitOfWork, command: ChangeStatus) -> Affiliate:
        return await self._change_status(uow, command, REINSTATE, activated_event)

    async def _change_status(self, uow: UnitOfWork, command: ChangeStatus, change: StatusChange,
                             told: Callable[[Affiliate, datetime], Event]) -> Affiliate:
        now = self.clock()
        async with uow:
            affiliate = await load(uow, command.affiliate_id, for_update=True)
            affiliate = replace(affiliate, status=change.applied_to(affiliate.status))
            await uow.affiliates.save_status(affiliate.affiliate_id, affiliate.status, now)
            await uow.audit.append(AuditRecord(command.affiliate_id, change.action, command.actor.sub,
                                               command.client_address, now, None, None))
            uow.publish(told(affiliate, now))
        return affiliate
