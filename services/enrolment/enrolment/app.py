"""Composition root of the enrolment service: settings, runtime, routes, consumers, periodic work."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from carnet_runtime import Service
from carnet_runtime.composition import ServiceApp

from . import api, consumers
from .api.rosters import ROSTER_PATH
from .application import digests, privacy
from .domain import DigestSchedule
from .refusals import REFUSALS
from .settings import EnrolmentSettings
from .store import EnrolmentUnitOfWork

MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"
# What /openapi.json says the service is for.
DESCRIPTION = (
    "Campaigns, schools, applications for a pass, validation by the school, roster import, "
    "the correspondents' weekly digest, the purge after the season and a person's rights."
)
log = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class EnrolmentApp(ServiceApp[EnrolmentSettings, EnrolmentUnitOfWork]):
    """What the routes and the periodic tasks share, with the clock."""

    unit_of_work = EnrolmentUnitOfWork
    clock: Callable[[], datetime] = field(default=utc_now)

    @property
    def digest_schedule(self) -> DigestSchedule:
        return DigestSchedule(self.settings.digest_weekday, self.settings.digest_hour)


def create_service(settings: EnrolmentSettings | None = None) -> Service:
    settings = settings or EnrolmentSettings()
    service = Service(settings, title="Carnet — enrolment", description=DESCRIPTION, migrations=MIGRATIONS,
                      refusals=REFUSALS)
    app = EnrolmentApp(service, settings)
    service.limit_body(ROSTER_PATH, settings.roster_max_bytes)
    service.include_router(api.router(app))
    consumers.register(service)

    @service.every(settings.digest_check_seconds)
    async def weekly_digests(_: Service) -> None:
        sent = await digests.weekly_digests(app.uow(), app.digest_schedule, settings.digest_max_listed, now=app.clock())
        if sent.digests:
            log.info("weekly digests sent", extra={"week": sent.week, "schools": len(sent.digests)})

    @service.every(settings.purge_check_seconds)
    async def due_purges(_: Service) -> None:
        for purge in await privacy.purge_due_campaigns(app.uow(), now=app.clock()):
            log.info("campaign purged", extra={"campaign_id": purge.campaign_id, "purge_id": purge.purge_id,
                                               "applications": purge.applications_anonymised})

    return service
