"""A person's rights and the season's end: what the wallet holds about a family (export), and
erasing it (the guardian's request, or the campaign's purge) while the figures keep their amounts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from carnet_contracts.events import GuardianErasureRequested
from carnet_runtime.auth import Principal, forbidden
from carnet_runtime.errors import invalid_fields

from ..domain import Act, Affiliate, Wallet
from ..store import WalletUnitOfWork
from .family import UseCasesBase


@dataclass(frozen=True)
class EmailRecord:
    request_id: UUID
    wallet_id: UUID
    reason: str
    requested_at: datetime
    positions: list[int]


@dataclass(frozen=True)
class PrivacyExport:
    """What the wallet service holds about one family: its wallets and tickets, the acts done on its
    behalf, the ticket e-mails whose sheet is still kept."""

    subject: dict[str, str]
    generated_at: datetime
    wallets: list[Wallet]
    acts: list[Act]
    emails: list[EmailRecord]
    affiliates: dict[str, Affiliate]


class Privacy(UseCasesBase):
    async def export(self, uow: WalletUnitOfWork, actor: Principal, email: str | None) -> PrivacyExport:
        """A family: what is held about its own account. The admin: about the guardian with `email`."""
        if actor.role == "family":
            if email is not None:
                raise forbidden("Une famille ne peut consulter que ses propres données.")
            subject = {"family_sub": actor.sub}
        elif actor.role == "admin":
            if not email or not email.strip():
                raise invalid_fields({"email": "l'adresse e-mail du responsable légal est obligatoire"})
            subject = {"email": email.strip()}
        else:
            raise forbidden()
        async with uow:
            if actor.role == "family":
                wallets = await uow.wallets.of_owner(actor.sub)
            else:
                wallets = await uow.wallets.of_guardian_email(subject["email"])
            ids = [w.wallet_id for w in wallets]
            acts = await uow.acts.of_wallets(ids)
            emails = [EmailRecord(*row) for row in await uow.snapshots.summaries(ids)]
            affiliates = await uow.affiliates.of(a for w in wallets for t in w.tickets
                                                 for a in (t.affiliate_id, t.redeemed_by))
        return PrivacyExport(subject, self.clock(), wallets, acts, emails, affiliates)

    async def purge_campaign(self, uow: WalletUnitOfWork, campaign_id: str) -> int:
        """The wallet's share of a campaign's purge: every wallet of the campaign anonymised."""
        async with uow:
            ids = await uow.wallets.ids_of_campaign(campaign_id)
            return await self._forget(uow, ids)

    async def erase(self, uow: WalletUnitOfWork, event: GuardianErasureRequested) -> int:
        """A guardian's erasure: their wallets (by id, application or family account) anonymised, and
        the sent outbox rows about them (their envelopes carry names and the e-mail) forgotten."""
        wallet_ids = []
        for text in event.wallet_ids:
            try:
                wallet_ids.append(UUID(text))
            except ValueError:
                continue  # not an id this service ever gave out
        async with uow:
            found = await uow.wallets.ids_to_erase(wallet_ids, event.application_ids, event.family_subs)
            erased = await self._forget(uow, list(found))
            await uow.outbox_rows.forget([str(w) for w in found] + [str(t) for ts in found.values() for t in ts])
        return erased

    async def _forget(self, uow: WalletUnitOfWork, wallet_ids: list[UUID]) -> int:
        if not wallet_ids:
            return 0
        erased = await uow.wallets.anonymise(wallet_ids, self.clock())
        await uow.acts.anonymise(wallet_ids)
        await uow.snapshots.delete_of_wallets(wallet_ids)
        return erased
