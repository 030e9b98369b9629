"""The electronic convention: its text, the four steps, the audit trail."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from carnet_contracts import events
from carnet_runtime.auth import Principal

from ..domain import convention as conv
from ..domain.organisation import Affiliate
from .common import ActOnAffiliate, Clock, Seal, UnitOfWork, activated_event, addressee, ensure_own, load, utc_now

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TakeStep(ActOnAffiliate):
    """An affiliate takes a step of its own convention, from some address."""

    sha256: str = ""  # read: the hash of the text the client showed
    otp: str = ""  # sign: the code received by e-mail


@dataclass(frozen=True)
class StepTaken:
    affiliate: Affiliate
    record: conv.AuditRecord | None

    @property
    def progress(self) -> conv.ConventionProgress:
        return self.affiliate.convention


class Conventions:
    def __init__(self, *, document: conv.ConventionDocument, otp_policy: conv.OtpPolicy, seal: Seal,
                 clock: Clock = utc_now) -> None:
        self.document = document
        self.otp_policy = otp_policy
        self.seal = seal
        self.clock = clock

    async def of(self, uow: UnitOfWork, actor: Principal, affiliate_id: str) -> Affiliate:
        """The organisation whose convention (the one in force: `self.document`) is shown."""
        ensure_own(actor, affiliate_id, admin_too=True)
        async with uow:
            return await load(uow, affiliate_id)

    def _context(self, step: TakeStep) -> conv.StepContext:
        ensure_own(step.actor, step.affiliate_id)
        return conv.StepContext(step.affiliate_id, step.actor.sub, step.client_address, self.clock())

    async def read(self, uow: UnitOfWork, step: TakeStep) -> StepTaken:
        ctx = self._context(step)
        async with uow:
            affiliate = await load(uow, step.affiliate_id, for_update=True)
            progress, record = conv.read(affiliate.convention, self.document, step.sha256, ctx)
            return await self._save(uow, replace(affiliate, convention=progress), record, ctx)

    async def accept(self, uow: UnitOfWork, step: TakeStep) -> StepTaken:
        ctx = self._context(step)
        async with uow:
            affiliate = await load(uow, step.affiliate_id, for_update=True)
            progress, record = conv.accept(affiliate.convention, self.document, ctx)
            return await self._save(uow, replace(affiliate, convention=progress), record, ctx)

    async def send_code(self, uow: UnitOfWork, step: TakeStep) -> StepTaken:
        """A one-time code, e-mailed (sealed on its way) to the organisation's contact."""
        ctx = self._context(step)
        async with uow:
            affiliate = await load(uow, step.affiliate_id, for_update=True)
            progress, record, otp = conv.issue_otp(affiliate.convention, self.document, ctx, self.otp_policy)
            taken = await self._save(uow, replace(affiliate, convention=progress), record, ctx)
            uow.publish(
                events.ConventionOtpIssued(**addressee(affiliate), sealed_otp=self.seal(otp),
                                           expires_at=progress.otp_expires_at)
            )
        return taken

    async def sign(self, uow: UnitOfWork, step: TakeStep) -> StepTaken:
        """Signing with the right code makes the organisation active; a wrong code is counted (the
        count is what stops guessing) and then refused."""
        ctx = self._context(step)
        async with uow:
            affiliate = await load(uow, step.affiliate_id, for_update=True)
            progress, record, refusal = conv.sign(affiliate.convention, self.document, step.otp, ctx, self.otp_policy)
            if record is None:
                await uow.affiliates.save_convention(replace(affiliate, convention=progress), ctx.at)
            else:
                affiliate = affiliate.signed(progress, ctx.at)
                taken = await self._save(uow, affiliate, record, ctx)
                uow.publish(
                    events.ConventionSigned(**addressee(affiliate), convention_version=record.document_version,
                                            document_sha256=record.document_sha256, signed_at=ctx.at)
                )
                uow.publish(activated_event(affiliate, ctx.at))
        if refusal is not None:
            raise refusal
        log.info("convention signed", extra={"affiliate_id": affiliate.affiliate_id})
        return taken

    @staticmethod
    async def _save(uow: UnitOfWork, affiliate: Affiliate, record: conv.AuditRecord,
                    ctx: conv.StepContext) -> StepTaken:
        await uow.affiliates.save_convention(affiliate, ctx.at)
        await uow.audit.append(record)
        return StepTaken(affiliate, record)

    async def audit_trail(self, uow: UnitOfWork, affiliate_id: str) -> list[conv.AuditRecord]:
        async with uow:
            await load(uow, affiliate_id)
            return await uow.audit.of(affiliate_id)
