"""The composition root: settings, the runtime's service, routes and handlers."""

from __future__ import annotations

from pathlib import Path

from carnet_runtime import Service

from . import api, consumers
from .settings import WalletSettings

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def create_service(settings: WalletSettings | None = None) -> Service:
    settings = settings or WalletSettings()
    service = Service(
        settings,
        title="Carnet wallet",
        description="The Pass's electronic wallet: its tickets, crediting, assignment, voiding and the ticket sheet.",
        migrations=MIGRATIONS,
    )
    api.install(service.api)
    service.include_router(api.router(service, settings))
    consumers.register(service)
    return service
