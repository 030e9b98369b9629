"""A French postal address, as the services that keep one (a family's, an organisation's) hold it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Address:
    """Its postcode decides a family's eligibility; the directory of organisations shows it."""

    line: str
    postcode: str
    city: str
