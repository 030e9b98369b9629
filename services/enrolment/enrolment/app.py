"""Composition root of the enrolment service: settings, runtime, routes, consumers, periodic work."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from carnet_runtime import Service

from . import api, consumers
from .api.rosters import ROSTER_PATH
from .application import digests, privacy
from .domain import DigestSchedule
from .refusals import REFUSALS
from .settings import EnrolmentSettings
from .store import EnrolmentUnitOfWork

MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"
log = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class EnrolmentApp:
    """What the routes and the periodic tasks share: the service (its pool and outbox), the settings
    and the clock."""

    service: Service
    settings: EnrolmentSettings
    clock: Callable[[], datetime] = field(default=utc_now)

    def uow(self) -> EnrolmentUnitOfWork:
        return EnrolmentUnitOfWork(self.service.pool, self.service.outbox)

    @property
    def digest_schedule(self) -> DigestSchedule:
        return DigestSchedule(self.settings.digest_weekday, self.settings.digest_hour)


def create_service(settings: EnrolmentSettings | None = None) -> Service:
    settings = settings or EnrolmentSettings()
    service = Service(
        settings,
        title="Carnet — enrolment",
        description="Campaigns, schools, applications for a pass, validation by the school, roster import, "
                    "the correspondents' weekly digest, the purge after the season and a person's rights.",
        migrations=MIGRATIONS,
        refusals=REFUSALS,
    )
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
