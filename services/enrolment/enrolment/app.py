"""Composition root of the enrolment service: settings, runtime, routes, consumers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from carnet_runtime import Service

from . import api, consumers
from .api.rosters import ROSTER_PATH
from .refusals import REFUSALS
from .settings import EnrolmentSettings
from .store import EnrolmentUnitOfWork

MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class EnrolmentApp:
    """What the routes share: the service (its pool and outbox), the settings and the clock."""

    service: Service
    settings: EnrolmentSettings
    clock: Callable[[], datetime] = field(default=utc_now)

    def uow(self) -> EnrolmentUnitOfWork:
        return EnrolmentUnitOfWork(self.service.pool, self.service.outbox)


def create_service(settings: EnrolmentSettings | None = None) -> Service:
    settings = settings or EnrolmentSettings()
    service = Service(
        settings,
        title="Carnet — enrolment",
        description="Campaigns, schools, applications for a pass, validation by the school, roster import.",
        migrations=MIGRATIONS,
        refusals=REFUSALS,
    )
    service.limit_body(ROSTER_PATH, settings.roster_max_bytes)
    service.include_router(api.router(EnrolmentApp(service, settings)))
    consumers.register(service)
    return service
