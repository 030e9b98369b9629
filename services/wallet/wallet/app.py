"""The composition root: settings, the runtime's service, the use cases, routes and handlers."""

from __future__ import annotations

from pathlib import Path

from carnet_runtime import Service

from . import api, consumers
from .application import WalletUseCases
from .refusals import REFUSALS
from .settings import WalletSettings

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def create_service(settings: WalletSettings | None = None) -> Service:
    settings = settings or WalletSettings()
    service = Service(
        settings,
        title="Carnet wallet",
        description="The Pass's electronic wallet: its tickets, crediting, assignment, voiding and the ticket sheet.",
        migrations=MIGRATIONS,
        refusals=REFUSALS,
    )
    use_cases = WalletUseCases(settings.code_hash_key)
    service.include_router(api.router(service, settings, use_cases))
    consumers.register(service, use_cases)
    return service
