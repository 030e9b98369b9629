"""The figures, and the periodic work: the expiry reminder, the snapshots' retention, the codes'
re-encryption under the first key."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from carnet_contracts.calendar import paris_day
from carnet_contracts.events import PassExpiryReminderDue

from ..domain import Commitments, commitments
from ..store import CampaignFigures, WalletUnitOfWork
from .family import UseCasesBase


@dataclass(frozen=True)
class Figures:
    found: CampaignFigures
    commitments: Commitments


class Housekeeping(UseCasesBase):
    async def figures(self, uow: WalletUnitOfWork, campaign_id: str | None, as_of: date | None = None) -> Figures:
        """The campaign's figures now, and its commitments as of `as_of` (today in Paris by default)."""
        now = self.clock()
        day = as_of or paris_day(now)
        async with uow:
            found = await uow.figures.of_campaign(campaign_id, now)
            groups = await uow.figures.held_groups(campaign_id, day)
        return Figures(found, commitments(groups, day))

    async def remind_expiring(self, uow: WalletUnitOfWork, days_before: int, batch: int = 200) -> int:
        """One PassExpiryReminderDue per wallet whose pass ends within `days_before` days while money
        is left on it, recorded in the same transaction so it is never sent twice. How many were due."""
        now = self.clock()
        today = paris_day(now)
        reminded = 0
        async with uow:
            for wallet in await uow.wallets.due_for_reminder(today, today + timedelta(days=days_before), batch):
                if not wallet.expiry_reminder_due(now, days_before):
                    continue
                await uow.wallets.mark_reminded(wallet.wallet_id, now)
                uow.publish(PassExpiryReminderDue(
                    wallet_id=str(wallet.wallet_id), campaign_id=wallet.terms.campaign_id,
                    guardian_email=wallet.guardian_email, student_first_name=wallet.student.first_name,
                    valid_until=wallet.valid_until, credited_unspent_cents=wallet.credited_unspent_cents,
                    remaining_cents=wallet.remaining_cents, due_at=now,
                ))
                reminded += 1
        return reminded

    async def forget_old_snapshots(self, uow: WalletUnitOfWork, retention_days: int) -> int:
        async with uow:
            return await uow.snapshots.delete_older_than(self.clock() - timedelta(days=retention_days))

    async def reencrypt_codes(self, uow: WalletUnitOfWork, batch: int) -> int:
        """Move up to `batch` codes of each kind under the first code key; how many moved."""
        async with uow:
            return await uow.codes.reencrypt(batch)

    async def stranded_codes(self, uow: WalletUnitOfWork) -> int:
        """Codes sealed under a key the settings no longer hold: they cannot be shown or printed."""
        async with uow:
            return await uow.codes.stranded()
