"""What the use cases share: the clock, sealing, who may act on an organisation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from carnet_contracts import events
from carnet_runtime.auth import Principal, forbidden

from ..domain.organisation import Affiliate, affiliate_not_found
from ..store import AffiliationUnitOfWork as UnitOfWork  # the type: unit tests pass an in-memory one

__all__ = ["ActOnAffiliate", "Clock", "Seal", "UnitOfWork", "activated_event", "ensure_own", "load", "utc_now"]

Clock = Callable[[], datetime]
# Seals a secret for the notification service, which e-mails it (carnet_contracts.sealing).
Seal = Callable[[str], str]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ActOnAffiliate:
    """What every command on one organisation says: who acts, on which, from which address (the audit
    trail keeps all three); a command adds what it changes."""

    actor: Principal
    affiliate_id: str
    client_address: str | None


def ensure_own(actor: Principal, affiliate_id: str, *, admin_too: bool = False) -> None:
    """An affiliate acts on itself only; another affiliate's id answers 404 so that ids do not leak."""
    if admin_too and actor.role == "admin":
        return
    if actor.role != "affiliate" or actor.affiliate_id != affiliate_id:
        if actor.role == "affiliate":
            raise affiliate_not_found()
        raise forbidden()


async def load(uow: UnitOfWork, affiliate_id: str, *, for_update: bool = False) -> Affiliate:
    affiliate = await uow.affiliates.get(affiliate_id, for_update=for_update)
    if affiliate is None:
        raise affiliate_not_found()
    return affiliate


def activated_event(affiliate: Affiliate, at: datetime) -> events.AffiliateActivated:
    address = affiliate.organisation.address
    return events.AffiliateActivated(
        affiliate_id=affiliate.affiliate_id,
        name=affiliate.name,
        activity=affiliate.organisation.activity.value,
        city=address.city,
        postcode=address.postcode,
        activated_at=at,
    )
