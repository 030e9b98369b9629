"""Who may do what with a wallet, decided where the wallet is loaded.

- Its family (the owner's account) may do everything; another family is told the wallet does not
  exist, so that its existence does not leak.
- A wallet from a paper application has no family account: its school's correspondent and the
  admin have every right the owner has (see it with its codes, credit, assign, void, replace, print,
  e-mail), and every such act is recorded with who did it.
- On a family's (online) wallet, a correspondent of its school may only print, as before; the admin
  may see it (without codes) and print.
- The notification service, with a token scoped to this call, fetches sheets for e-mail.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any
from uuid import UUID

from carnet_runtime import Refusal
from carnet_runtime.auth import Principal, forbidden

from ..domain import Act, Action, Ticket, Wallet

# Only the notification service, with a token scoped to this call, fetches sheets for e-mail.
SHEET_SCOPE = "wallet.tickets_pdf"
SHEET_CALLERS = ("notification",)
# Who acts for a family on a paper wallet.
KEEPERS = ("correspondent", "admin")


class Right(Enum):
    READ = "read"  # see the wallet
    KEEP = "keep"  # what an owner does: credit, assign, void, replace, e-mail
    PRINT = "print"  # the ticket sheet


@dataclass(frozen=True)
class Access:
    """A caller's way into one wallet: what it may see, and whether its acts are recorded."""

    wallet: Wallet
    actor: Principal

    @property
    def owner(self) -> bool:
        return owns(self.actor, self.wallet)

    @property
    def with_codes(self) -> bool:
        """Codes are shown to the owner, and to those who act for a family without an account."""
        return self.owner or (self.wallet.paper and self.actor.role in KEEPERS)

    def acts(self, action: Action, tickets: Iterable[Ticket | None], now: datetime, **detail: Any) -> list[Act]:
        """The acts to record when someone else than the family acts on its wallet (none otherwise)."""
        return acts_for(self.actor, self.wallet.wallet_id, action, tickets, now, **detail)


def owns(actor: Principal, wallet: Wallet) -> bool:
    return actor.role == "family" and wallet.owner_sub is not None and actor.sub == wallet.owner_sub


def acts_for(actor: Principal, wallet_id: UUID, action: Action, tickets: Iterable[Ticket | None],
             now: datetime, **detail: Any) -> list[Act]:
    if actor.role not in KEEPERS:
        return []
    return [Act(wallet_id=wallet_id, action=action, actor_role=actor.role, actor_sub=actor.sub, acted_at=now,
                ticket_id=t.ticket_id if t else None, detail={k: v for k, v in detail.items() if v is not None})
            for t in tickets]


def wallet_unknown(*wallet_ids: UUID) -> Refusal:
    details: dict[str, Any] = ({"wallet_id": str(wallet_ids[0])} if len(wallet_ids) == 1
                               else {"wallet_ids": [str(w) for w in wallet_ids]})
    return Refusal("WALLET_UNKNOWN", "Ce porte-monnaie électronique n'existe pas ou ne vous est pas accessible.",
                   details)


def other_school(*wallet_ids: UUID) -> Refusal:
    return Refusal("OTHER_SCHOOL", "Ce porte-monnaie électronique est celui d'un élève d'un autre collège.",
                   {"wallet_ids": [str(w) for w in wallet_ids]} if wallet_ids else {})


def check(actor: Principal, wallet: Wallet, right: Right) -> Access:
    """The access `actor` has to `wallet` for `right`, or the refusal."""
    if actor.role == "family":
        if not owns(actor, wallet):
            raise wallet_unknown(wallet.wallet_id)
        return Access(wallet, actor)
    if actor.role == "service":
        if right is not Right.PRINT or actor.sub not in SHEET_CALLERS:
            raise forbidden()
        return Access(wallet, actor)
    if actor.role not in KEEPERS:
        raise forbidden()
    if actor.role == "correspondent" and actor.school_id != wallet.school_id:
        raise other_school()
    if right is Right.PRINT or (right is Right.READ and actor.role == "admin"):
        return Access(wallet, actor)
    if not wallet.paper:
        raise Refusal("NOT_A_PAPER_WALLET",
                      "Ce porte-monnaie électronique est celui d'une famille inscrite en ligne : seule la famille "
                      "peut le consulter et y agir (le collège peut seulement imprimer ses tickets).",
                      {"wallet_id": str(wallet.wallet_id)})
    if right is Right.KEEP and wallet.anonymised_at is not None:
        raise Refusal("WALLET_ERASED",
                      "Les données de ce porte-monnaie électronique ont été effacées : il n'est plus possible d'y agir.",
                      {"wallet_id": str(wallet.wallet_id)})
    return Access(wallet, actor)


async def wallet_for(uow, actor: Principal, wallet_id: UUID, right: Right, *, for_update: bool = False) -> Access:
    wallet = await uow.wallets.get(wallet_id, for_update=for_update)
    if wallet is None:
        raise wallet_unknown(wallet_id)
    return check(actor, wallet, right)
