"""The season driver's own books: what it credited, voided, redeemed and cancelled, ticket by ticket,
as the services answered each request. Nothing here is read back from a service's figures, so a test
can hold every figure the services compute against it (`carnet demo` keeps it too)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class SeasonLedger:
    allowance_per_wallet_cents: int = 0
    wallets: set[str] = field(default_factory=set)
    credited: dict[str, tuple[str, int]] = field(default_factory=dict)        # ticket -> (wallet, cents)
    voided: set[str] = field(default_factory=set)                             # tickets
    redemptions: dict[str, str] = field(default_factory=dict)                 # redemption -> ticket (each 201)
    cancelled: set[str] = field(default_factory=set)                          # redemptions
    after_batch: set[str] = field(default_factory=set)                        # redemptions made once the batch was paid
    batch_id: str | None = None

    # --- what the driver records, from the services' answers ---------------------------------------

    def wallet(self, wallet_id: str, allowance_cents: int) -> None:
        self.wallets.add(wallet_id)
        self.allowance_per_wallet_cents = allowance_cents

    def credit(self, ticket_id: str, wallet_id: str, amount_cents: int) -> None:
        self.credited[ticket_id] = (wallet_id, amount_cents)

    def void(self, ticket_id: str) -> None:
        self.voided.add(ticket_id)

    def redeem(self, redemption_id: str, ticket_id: str) -> None:
        self.redemptions[redemption_id] = ticket_id

    def cancel(self, redemption_id: str) -> None:
        self.cancelled.add(redemption_id)

    # --- what follows from it -----------------------------------------------------------------------

    @property
    def active(self) -> dict[str, str]:
        """The redemptions that stand (not cancelled): redemption -> ticket."""
        return {r: t for r, t in self.redemptions.items() if r not in self.cancelled}

    def amount(self, ticket_id: str) -> int:
        return self.credited[ticket_id][1]

    def ticket_statuses(self) -> dict[str, tuple[str, int]]:
        """Each credited ticket's status and amount as the wallet must show it."""
        spent = set(self.active.values())
        return {t: ("voided" if t in self.voided else "redeemed" if t in spent else "credited", cents)
                for t, (_, cents) in self.credited.items()}

    def redemption_statuses(self) -> dict[str, tuple[str, str, int]]:
        """Each redemption's ticket, status and amount as the redemption service must hold it."""
        return {r: (t, "cancelled" if r in self.cancelled else "active", self.amount(t))
                for r, t in self.redemptions.items()}

    def statement_lines(self) -> dict[str, tuple[str, int]]:
        """Each redemption's line at the affiliates: paid in the batch, pending after it, or cancelled."""
        return {r: ("cancelled" if r in self.cancelled else "pending" if r in self.after_batch else "paid",
                    self.amount(t)) for r, t in self.redemptions.items()}

    @property
    def allowance_cents(self) -> int:
        return self.allowance_per_wallet_cents * len(self.wallets)

    @property
    def credited_cents(self) -> int:
        """What the wallets hold: every credit not voided (redeemed ones included)."""
        return sum(cents for t, (_, cents) in self.credited.items() if t not in self.voided)

    @property
    def voided_cents(self) -> int:
        return sum(self.amount(t) for t in self.voided)

    @property
    def redeemed_cents(self) -> int:
        return sum(self.amount(t) for t in self.active.values())

    @property
    def paid_cents(self) -> int:
        return sum(self.amount(t) for r, t in self.active.items() if r not in self.after_batch)

    @property
    def pending_cents(self) -> int:
        return sum(self.amount(t) for r, t in self.active.items() if r in self.after_batch)

    @property
    def students_who_used(self) -> int:
        return len({self.credited[t][0] for t in self.active.values()})
