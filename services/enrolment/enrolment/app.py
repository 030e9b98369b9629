"""Composition root of the enrolment service: settings, runtime, routes, consumers."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from carnet_contracts import topics
from carnet_contracts.events import (
    ApplicationRejected,
    ApplicationSubmitted,
    CampaignPublished,
    PassGranted,
    SchoolRegistered,
)
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
    _document_publications(service)
    return service


def _document_publications(service: Service) -> None:
    """Declares what this service publishes, so that /asyncapi.json shows it; the outbox relay
    does the sending, each event inside the envelope's `data`."""
    published = {
        topics.ENROLMENT_CAMPAIGNS: CampaignPublished,
        topics.ENROLMENT_SCHOOLS: SchoolRegistered,
        topics.ENROLMENT_APPLICATIONS: ApplicationSubmitted | PassGranted | ApplicationRejected,
    }
    for topic, schema in published.items():
        service.broker.publisher(
            topic.name,
            title=f"{topic.name}:publish",
            description=f"Envelope (event_id, event_type, schema_version, occurred_at, producer, campaign_id, data); "
            f"key: {topic.key}; data is the event below.",
            schema=schema,
        )
