"""Campaign dates are Europe/Paris calendar days; instants are stored in UTC.

Every service that decides whether a day has passed (a pass valid until 31 March, a
reimbursement deadline) uses these, so that the wallet that prints "valid until" and the
redemption service that refuses an expired ticket agree to the second.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")


def end_of_paris_day(day: date) -> datetime:
    """The first instant after `day` in Paris: something valid "until `day`" stops being valid then."""
    return datetime.combine(day + timedelta(days=1), time.min, tzinfo=PARIS)


def paris_day(moment: datetime) -> date:
    """The Paris calendar day an instant falls on."""
    return moment.astimezone(PARIS).date()
