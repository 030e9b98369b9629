"""The season driver's own books: what it credited, voided, redeemed and cancelled, ticket by ticket,
as the services answered each request. Nothing here is read back from a service's figures, so a test
can hold every figure the services compute against it (`carnet demo` keeps it too).

A void that went through makes the ticket blank again (it holds no amount, its amount is back in the
allowance); crediting it again is a new credit of the same ticket. A redemption's amount is the
ticket's when it was redeemed, whatever the ticket became since (an admin's late cancel may void it)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class SeasonLedger:
    allowance_per_wallet_cents: int = 0
    wallets: set[str] = field(default_factory=set)
    credits: list[tuple[str, str, int]] = field(default_factory=list)        # every credit: (ticket, wallet, cents)
    holding: dict[str, tuple[str, int]] = field(default_factory=dict)         # ticket -> (wallet, cents), held now
    voids: list[tuple[str, int]] = field(default_factory=list)                # every void that went through
    replaced: set[str] = field(default_factory=set)                           # tickets given a new code
    redemptions: dict[str, tuple[str, int]] = field(default_factory=dict)     # redemption -> (ticket, cents), each 201
    cancelled: dict[str, str] = field(default_factory=dict)                   # redemption -> by whom (affiliate, admin)
    after_batch: set[str] = field(default_factory=set)                        # redemptions made once the batch was paid
    batch_id: str | None = None

    # --- what the driver records, from the services' answers ---------------------------------------

    def wallet(self, wallet_id: str, allowance_cents: int) -> None:
        self.wallets.add(wallet_id)
        self.allowance_per_wallet_cents = allowance_cents

    def credit(self, ticket_id: str, wallet_id: str, amount_cents: int) -> None:
        self.credits.append((ticket_id, wallet_id, amount_cents))
        self.holding[ticket_id] = (wallet_id, amount_cents)

    def void(self, ticket_id: str) -> None:
        """The wallet shows the ticket blank again."""
        _, cents = self.holding.pop(ticket_id)
        self.voids.append((ticket_id, cents))

    def replace(self, ticket_id: str) -> None:
        self.replaced.add(ticket_id)

    def redeem(self, redemption_id: str, ticket_id: str) -> None:
        self.redemptions[redemption_id] = (ticket_id, self.holding[ticket_id][1])

    def cancel(self, redemption_id: str, by: str = "affiliate") -> None:
        self.cancelled[redemption_id] = by

    # --- what follows from it -----------------------------------------------------------------------

    @property
    def active(self) -> dict[str, tuple[str, int]]:
        """The redemptions that stand (not cancelled): redemption -> (ticket, cents)."""
        return {r: held for r, held in self.redemptions.items() if r not in self.cancelled}

    def ticket_statuses(self) -> dict[str, tuple[str, int]]:
        """Each ticket holding an amount, its status and amount as the wallet must show it (a voided
        ticket is blank: not among them)."""
        spent = {t for t, _ in self.active.values()}
        return {t: ("redeemed" if t in spent else "credited", cents) for t, (_, cents) in self.holding.items()}

    def redemption_statuses(self) -> dict[str, tuple[str, str, int, str | None]]:
        """Each redemption's ticket, status, amount and who cancelled it, as the redemption service must
        hold it."""
        return {r: (t, "cancelled" if r in self.cancelled else "active", cents, self.cancelled.get(r))
                for r, (t, cents) in self.redemptions.items()}

    def statement_lines(self) -> dict[str, tuple[str, int]]:
        """Each redemption's line at the affiliates: paid in the batch, pending after it, or cancelled."""
        return {r: ("cancelled" if r in self.cancelled else "pending" if r in self.after_batch else "paid", cents)
                for r, (_, cents) in self.redemptions.items()}

    @property
    def allowance_cents(self) -> int:
        return self.allowance_per_wallet_cents * len(self.wallets)

    @property
    def credited_cents(self) -> int:
        """What the wallets hold: every ticket holding an amount (redeemed ones included)."""
        return sum(cents for _, cents in self.holding.values())

    @property
    def voided_cents(self) -> int:
        return sum(cents for _, cents in self.voids)

    @property
    def redeemed_cents(self) -> int:
        return sum(cents for _, cents in self.active.values())

    @property
    def paid_cents(self) -> int:
        return sum(cents for r, (_, cents) in self.active.items() if r not in self.after_batch)

    @property
    def pending_cents(self) -> int:
        return sum(cents for r, (_, cents) in self.active.items() if r in self.after_batch)

    @property
    def outstanding_cents(self) -> int:
        """Credited and not redeemed (every pass of the season is still valid when it ends)."""
        return self.credited_cents - self.redeemed_cents

    @property
    def students_who_used(self) -> int:
        wallet_of = {t: w for t, w, _ in self.credits}
        return len({wallet_of[t] for t, _ in self.active.values()})
