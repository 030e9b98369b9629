"""What other services tell the wallet: a pass granted, what happened to a ticket at the counter
or in the redemption service, affiliates and campaigns."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from uuid import UUID

from carnet_contracts.events import PassGranted, PassGrantedV1, TicketReplaced, WalletCreated

from ..domain import CampaignTerms, Student, Wallet
from ..store import PublishedTerms, WalletUnitOfWork
from .family import UseCasesBase


def _ids(wallet_id: str, ticket_id: str) -> tuple[UUID, UUID] | None:
    try:
        return UUID(wallet_id), UUID(ticket_id)
    except ValueError:
        return None  # not an id this service ever gave out


def _open(event: PassGranted | PassGrantedV1, published: PublishedTerms | None) -> Wallet:
    """The wallet of a granted pass, under the campaign's published terms when the wallet has them."""
    terms = CampaignTerms(
        campaign_id=event.campaign_id,
        label=published.label if published else event.campaign_label,
        allowance_cents=event.allowance_cents,
        tickets_per_pass=event.tickets_per_pass,
        ticket_min_cents=published.ticket_min_cents if published else event.ticket_min_cents,
        ticket_max_cents=published.ticket_max_cents if published else event.ticket_max_cents,
        pass_valid_until=published.pass_valid_until if published else event.pass_valid_until,
    )
    return Wallet.open(
        application_id=event.application_id, school_id=event.school_id, owner_sub=event.family_sub,
        guardian_email=event.guardian.email,
        student=Student(event.student.last_name, event.student.first_name, event.student.level),
        terms=terms,
    )


class News(UseCasesBase):
    async def pass_granted(self, uow: WalletUnitOfWork, event: PassGranted | PassGrantedV1) -> Wallet | None:
        """`passes_granted` of one event: its new wallet, or None if its application has one."""
        created = await self.passes_granted(uow, [event])
        return created[0] if created else None

    async def passes_granted(self, uow: WalletUnitOfWork, events: Sequence[PassGranted | PassGrantedV1]) -> list[Wallet]:
        """Exactly one wallet per granted application, however often the event arrives; the wallets
        created, in the events' order. Several events at once (a consumer's batch) cost the same few
        queries as one: the campaigns' terms, the wallets with their tickets, the WalletCreated events.
        Version 1 messages still on the topic reach here too: only the fields both versions have are read."""
        async with uow:
            published = await uow.campaigns.terms_of(e.campaign_id for e in events)
            opened: dict[str, Wallet] = {}
            for event in events:
                if event.application_id not in opened:  # the same application twice: the first one counts
                    opened[event.application_id] = _open(event, published.get(event.campaign_id))
            stored = await uow.wallets.add_all(list(opened.values()))
            created = [w for w in opened.values() if w.wallet_id in stored]  # others lost to an existing wallet
            for wallet in created:
                terms = wallet.terms
                uow.publish(WalletCreated(
                    wallet_id=str(wallet.wallet_id), application_id=wallet.application_id,
                    campaign_id=terms.campaign_id, family_sub=wallet.owner_sub, ticket_count=len(wallet.tickets),
                    allowance_cents=terms.allowance_cents, valid_until=terms.pass_valid_until,
                    student_first_name=wallet.student.first_name, guardian_email=wallet.guardian_email,
                    created_at=self.clock(),
                ))
        return created

    async def ticket_changed(self, uow: WalletUnitOfWork, wallet_id: str, ticket_id: str,
                             change: Callable[[Wallet, UUID], bool]) -> bool:
        """Apply what the redemption service says about one of our tickets; anything else is ignored."""
        ids = _ids(wallet_id, ticket_id)
        if ids is None:
            return False
        async with uow:
            wallet = await uow.wallets.get(ids[0], for_update=True)
            if wallet is None or not change(wallet, ids[1]):
                return False
            await uow.wallets.save_ticket(wallet.ticket(ids[1]))
        return True

    async def ticket_replaced(self, uow: WalletUnitOfWork, event: TicketReplaced) -> bool:
        """The old code is revoked: the new one is the ticket's, and the guardian gets the new sheet."""
        ids = _ids(event.wallet_id, event.ticket_id)
        if ids is None:
            return False
        now = self.clock()
        async with uow:
            wallet = await uow.wallets.get(ids[0], for_update=True)
            ticket = wallet.ticket_replaced(ids[1]) if wallet else None
            if wallet is None or ticket is None:
                return False
            await uow.wallets.save_ticket(ticket)
            if wallet.anonymised_at is None:
                await self._email(uow, wallet, [ticket], "replaced", now)
        return True

    async def affiliate_activated(self, uow: WalletUnitOfWork, affiliate_id: str, name: str) -> None:
        async with uow:
            await uow.affiliates.activated(affiliate_id, name)

    async def affiliate_suspended(self, uow: WalletUnitOfWork, affiliate_id: str) -> None:
        async with uow:
            await uow.affiliates.suspended(affiliate_id)

    async def campaign_published(self, uow: WalletUnitOfWork, campaign_id: str, terms: PublishedTerms) -> None:
        async with uow:
            await uow.campaigns.published(campaign_id, terms)
