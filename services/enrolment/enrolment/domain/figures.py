"""Figures for the département: applications by status and school, and how fast schools validate.

The département promises families their pass within 15 days; the delay from submission to
validation, overall and per school, and the files still waiting and their age, say whether schools
keep that promise. Anonymised applications count like the others (they keep their status and dates),
so that a campaign's figures are the same after its purge.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from .application import ApplicationStatus
from .campaign import paris_day

PROMISE = timedelta(days=15)


@dataclass(frozen=True)
class ApplicationFact:
    school_id: str
    status: ApplicationStatus
    submitted_at: datetime
    validated_at: datetime | None


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Linear interpolation between closest ranks (the spreadsheet PERCENTILE.INC)."""
    if not sorted_values:
        raise ValueError("no values")
    position = (len(sorted_values) - 1) * fraction
    low = math.floor(position)
    high = math.ceil(position)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


def _days(seconds: float) -> float:
    return round(seconds / 86400, 2)


def _delay(delays: list[float]) -> dict[str, Any]:
    """Submission to validation, in days: how many, the median, the longest."""
    return {
        "count": len(delays),
        "median_days": _days(percentile(delays, 0.5)) if delays else None,
        "max_days": _days(delays[-1]) if delays else None,
    }


def _waiting(submitted: list[datetime], today: date) -> dict[str, Any]:
    """Files still waiting for the school and their age in whole Paris days (today minus the day of submission)."""
    submitted = sorted(submitted)
    ages = sorted(float((today - paris_day(at)).days) for at in submitted)
    return {
        "count": len(submitted),
        "oldest_submitted_at": submitted[0] if submitted else None,
        "oldest_days": int(ages[-1]) if ages else None,
        "median_days": percentile(ages, 0.5) if ages else None,
    }


def figures(facts: Iterable[ApplicationFact], today: date, promise: timedelta = PROMISE) -> dict[str, Any]:
    """The figures of a set of applications, waiting ages counted on `today` (Europe/Paris)."""
    by_status: Counter[str] = Counter()
    by_school: dict[str, Counter[str]] = {}
    delays: list[float] = []
    delays_by_school: dict[str, list[float]] = {}
    waiting: list[datetime] = []
    waiting_by_school: dict[str, list[datetime]] = {}
    for fact in facts:
        by_status[fact.status.value] += 1
        by_school.setdefault(fact.school_id, Counter())[fact.status.value] += 1
        if fact.validated_at is not None:
            delay = (fact.validated_at - fact.submitted_at).total_seconds()
            delays.append(delay)
            delays_by_school.setdefault(fact.school_id, []).append(delay)
        if fact.status is ApplicationStatus.SUBMITTED:
            waiting.append(fact.submitted_at)
            waiting_by_school.setdefault(fact.school_id, []).append(fact.submitted_at)
    statuses = [s.value for s in ApplicationStatus]
    delays.sort()
    within = sum(1 for d in delays if d <= promise.total_seconds())
    return {
        "total": sum(by_status.values()),
        "by_status": {s: by_status[s] for s in statuses},
        "granted": by_status[ApplicationStatus.VALIDATED.value] + by_status[ApplicationStatus.WALLET_READY.value],
        "by_school": {
            school: {"total": sum(counts.values()), **{s: counts[s] for s in statuses}}
            for school, counts in sorted(by_school.items())
        },
        "validation_delay": {
            **_delay(delays),
            "p90_days": _days(percentile(delays, 0.9)) if delays else None,
            "promise_days": promise.days,
            "within_promise": within,
            "within_promise_ratio": round(within / len(delays), 4) if delays else None,
        },
        "validation_delay_by_school": {school: _delay(sorted(found)) for school, found in sorted(delays_by_school.items())},
        "waiting": _waiting(waiting, today),
        "waiting_by_school": {school: _waiting(found, today) for school, found in sorted(waiting_by_school.items())},
    }
