"""Figures for the département: applications by status and school, and how fast schools validate.

The département promises families their pass within 15 days; the delay from submission to
validation says whether schools keep that promise.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .application import ApplicationStatus

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


def figures(facts: Iterable[ApplicationFact], promise: timedelta = PROMISE) -> dict[str, Any]:
    by_status: Counter[str] = Counter()
    by_school: dict[str, Counter[str]] = {}
    delays: list[float] = []
    for fact in facts:
        by_status[fact.status.value] += 1
        by_school.setdefault(fact.school_id, Counter())[fact.status.value] += 1
        if fact.validated_at is not None:
            delays.append((fact.validated_at - fact.submitted_at).total_seconds())
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
            "count": len(delays),
            "median_days": _days(percentile(delays, 0.5)) if delays else None,
            "p90_days": _days(percentile(delays, 0.9)) if delays else None,
            "promise_days": promise.days,
            "within_promise": within,
            "within_promise_ratio": round(within / len(delays), 4) if delays else None,
        },
    }
