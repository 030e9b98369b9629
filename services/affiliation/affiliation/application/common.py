"""What the use cases share: the clock, sealing, who may act on an organisation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from carnet_contracts import events
from carnet_runtime.auth import Principal, forbidden

from ..domain.account import IssuedToken, TokenPurpose, issue_token
from ..domain.keyed_hash import KeyedHash
from ..domain.organisation import Affiliate, affiliate_not_found
from ..store import AffiliationUnitOfWork as UnitOfWork  # the type: unit tests pass an in-memory one

__all__ = ["ActOnAffiliate", "Clock", "Seal", "UnitOfWork", "activated_event", "addressee", "ensure_own", "load",
           "stored_token", "utc_now"]

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


def addressee(affiliate: Affiliate) -> dict[str, str]:
    """Whom a notice about an organisation is written to: the fields every such event carries (the
    notification service e-mails its contact, by its name)."""
    return {"affiliate_id": affiliate.affiliate_id, "name": affiliate.name, "contact_email": affiliate.contact_email}


async def stored_token(uow: UnitOfWork, keyed: KeyedHash, affiliate_id: str, purpose: TokenPurpose,
                       ttl: timedelta, now: datetime) -> IssuedToken:
    """A new one-time token of `purpose` for the organisation, replacing any earlier one; only its keyed
    hash is stored, the clear token goes (sealed) to the e-mail."""
    issued = issue_token(now, ttl, keyed)
    await uow.tokens.replace(affiliate_id, purpose, issued.token_hash, issued.expires_at, now)
    return issued


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
