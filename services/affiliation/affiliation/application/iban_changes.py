"""An organisation's new IBAN: asked for by the organisation or staff, confirmed with the code
e-mailed to the organisation's current contact, used from the next reimbursement batch on."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from carnet_contracts import events
from carnet_runtime.auth import Principal

from ..domain.convention import AuditRecord
from ..domain.iban_change import IbanChange, confirm_change, request_change
from ..domain.one_time_code import OtpPolicy
from ..domain.organisation import Affiliate, iban_suffix
from .common import ActOnAffiliate, Clock, Seal, UnitOfWork, addressee, ensure_own, load, utc_now

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RequestIbanChange(ActOnAffiliate):
    iban: str


@dataclass(frozen=True)
class ConfirmIbanChange(ActOnAffiliate):
    otp: str


@dataclass(frozen=True)
class IbanChangeRequested:
    """A code went to the current contact; the new IBAN waits for it until `expires_at`."""

    affiliate_id: str
    new_iban: str
    expires_at: datetime


@dataclass(frozen=True)
class IbanChanged:
    affiliate: Affiliate
    changed_at: datetime


class IbanChanges:
    def __init__(self, *, otp_policy: OtpPolicy, seal: Seal, clock: Clock = utc_now) -> None:
        self.otp_policy = otp_policy
        self.seal = seal
        self.clock = clock

    async def request(self, uow: UnitOfWork, command: RequestIbanChange) -> IbanChangeRequested:
        """A code for the new IBAN, e-mailed (sealed on its way) to the contact as it is now."""
        ensure_own(command.actor, command.affiliate_id, admin_too=True)
        now = self.clock()
        async with uow:
            affiliate = await load(uow, command.affiliate_id, for_update=True)  # one request at a time
            change, code = request_change(await uow.iban_changes.get(affiliate.affiliate_id), affiliate, command.iban,
                                          command.actor.sub, now, self.otp_policy)
            await uow.iban_changes.save(change, now)
            await uow.audit.append(self._record(command.actor, affiliate, command.client_address, now,
                                                "iban_change_requested",
                                                {"new_iban_suffix": iban_suffix(change.new_iban)}))
            uow.publish(events.IbanChangeOtpIssued(
                **addressee(affiliate), sealed_otp=self.seal(code), new_iban_suffix=iban_suffix(change.new_iban),
                expires_at=change.code.expires_at))
        return IbanChangeRequested(affiliate.affiliate_id, change.new_iban, change.code.expires_at)

    async def confirm(self, uow: UnitOfWork, command: ConfirmIbanChange) -> IbanChanged:
        """The right code makes the new IBAN the one the next batch pays; a wrong one is counted."""
        ensure_own(command.actor, command.affiliate_id, admin_too=True)
        now = self.clock()
        async with uow:
            affiliate = await load(uow, command.affiliate_id, for_update=True)
            change: IbanChange | None = await uow.iban_changes.get(affiliate.affiliate_id)
            change, new_iban, refusal = confirm_change(change, command.otp, now, self.otp_policy)
            await uow.iban_changes.save(change, now)
            if new_iban is not None:
                old_iban = affiliate.organisation.iban
                affiliate = affiliate.with_iban(new_iban)
                await uow.affiliates.save_iban(affiliate, now)
                await uow.audit.append(self._record(command.actor, affiliate, command.client_address, now,
                                                    "iban_change", {"old_iban_suffix": iban_suffix(old_iban),
                                                                    "new_iban_suffix": iban_suffix(new_iban)}))
                uow.publish(events.AffiliateIbanChanged(
                    **addressee(affiliate), iban_suffix=iban_suffix(new_iban), changed_at=now))
        if refusal is not None:
            raise refusal
        log.info("affiliate iban changed", extra={"affiliate_id": affiliate.affiliate_id})
        return IbanChanged(affiliate, now)

    @staticmethod
    def _record(actor: Principal, affiliate: Affiliate, client_address: str | None, at: datetime, action: str,
                details: dict[str, str]) -> AuditRecord:
        return AuditRecord(affiliate.affiliate_id, action, actor.sub, client_address, at, None, None,
                           {**details, "role": actor.role})
