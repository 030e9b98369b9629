"""The school's weekly rhythm: each correspondent is reminded once a week, at a set day and hour
(Europe/Paris), of the files waiting for them, oldest first, only when some are waiting."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from .campaign import PARIS

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def iso_week(instant: datetime) -> str:
    """The ISO week of that instant in Paris: `2014-W38`."""
    year, week, _ = instant.astimezone(PARIS).isocalendar()
    return f"{year}-W{week:02d}"


@dataclass(frozen=True)
class DigestSchedule:
    weekday: str  # one of WEEKDAYS
    hour: int  # 0..23, Europe/Paris

    def __post_init__(self) -> None:
        if self.weekday not in WEEKDAYS or not 0 <= self.hour <= 23:
            raise ValueError("a digest schedule is a weekday name and an hour from 0 to 23")

    def due_at(self, now: datetime) -> datetime:
        """This ISO week's moment (Paris) for the digest."""
        today = now.astimezone(PARIS).date()
        monday = today - timedelta(days=today.weekday())
        day: date = monday + timedelta(days=WEEKDAYS.index(self.weekday))
        return datetime.combine(day, time(self.hour), PARIS)

    def is_due(self, now: datetime) -> bool:
        """The week's moment has come (a service down at that moment catches up later in the week)."""
        return now >= self.due_at(now)


@dataclass(frozen=True)
class WaitingFile:
    """A submitted application as the correspondent's digest lists it."""

    application_id: str
    student_last_name: str
    student_first_name: str
    channel: str
    submitted_at: datetime


@dataclass(frozen=True)
class Digest:
    """A digest sent (recorded so that a school gets one per week)."""

    digest_id: str
    school_id: str
    week: str
    due_at: datetime
    sent_at: datetime
    total_waiting: int
    forced: bool
