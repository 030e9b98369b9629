"""Composition root of the enrolment service: settings, runtime, routes, consumers."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from carnet_runtime import Service, ServiceSettings

from . import api, consumers
from .domain import DomainError

MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"


class EnrolmentSettings(ServiceSettings):
    model_config = SettingsConfigDict(extra="ignore", env_prefix="CARNET_ENROLMENT_")

    service_name: ClassVar[str] = "enrolment"
    default_http_port: ClassVar[int] = 8001


def create_service(settings: EnrolmentSettings | None = None) -> Service:
    service = Service(
        settings or EnrolmentSettings(),
        title="Carnet — enrolment",
        description="Campaigns, schools, applications for a pass, validation by the school, roster import.",
        migrations=MIGRATIONS,
    )
    service.api.add_exception_handler(DomainError, api.domain_error_response)
    service.include_router(api.build_router(service.outbox))
    consumers.register(service)
    return service

