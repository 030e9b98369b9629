"""Money and dates as the département writes them for people (French conventions)."""

from __future__ import annotations

from datetime import date, datetime

from .calendar import PARIS

NARROW_NBSP = "\u202f"  # between thousands
NBSP = "\u00a0"  # before the euro sign


def euros(cents: int, *, drop_zero_cents: bool = False) -> str:
    """1234 -> '12,34 €'; 215500000 -> '2 155 000,00 €' ('2 155 000 €' with drop_zero_cents)."""
    sign = "-" if cents < 0 else ""
    whole, rest = divmod(abs(cents), 100)
    grouped = f"{whole:,}".replace(",", NARROW_NBSP)
    if drop_zero_cents and rest == 0:
        return f"{sign}{grouped}{NBSP}€"
    return f"{sign}{grouped},{rest:02d}{NBSP}€"


def day(value: date) -> str:
    """31/03/2027."""
    return value.strftime("%d/%m/%Y")


def moment(value: datetime) -> str:
    """An instant as read in Paris: '31/03/2027 à 14 h 05'."""
    local = value.astimezone(PARIS)
    return f"{local:%d/%m/%Y} à {local:%H} h {local:%M}"
