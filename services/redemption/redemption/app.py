"""The composition root: settings, the runtime's service, the scanner and its store, routes, handlers
and housekeeping."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from carnet_contracts.topics import AFFILIATION_REIMBURSEMENTS
from carnet_runtime import Service
from carnet_runtime.composition import ServiceApp

from . import api, consumers
from .application import Scanner
from .refusals import REFUSALS
from .settings import RedemptionSettings
from .store import RedemptionUnitOfWork, ScannerStore, scanner_pool

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
# What /openapi.json says the service is for.
DESCRIPTION = "Affiliate scanners redeem tickets here: the double-spend guard of the Pass."


@dataclass(frozen=True)
class RedemptionApp(ServiceApp[RedemptionSettings, RedemptionUnitOfWork]):
    """What the routes share: the scanner's use cases and the store of its hot path."""

    unit_of_work = RedemptionUnitOfWork
    scanner: Scanner
    scanner_store: ScannerStore


def create_service(settings: RedemptionSettings | None = None) -> Service:
    settings = settings or RedemptionSettings()
    service = Service(settings, title="Carnet redemption", description=DESCRIPTION, migrations=MIGRATIONS,
                      refusals=REFUSALS)

    async def batches_known() -> bool:
        """Every ReimbursementBatchCreated already on Kafka is applied here (the admin's cancel asks)."""
        return await service.caught_up(AFFILIATION_REIMBURSEMENTS.name,
                                       within=settings.admin_cancel_batch_wait_seconds)

    app = RedemptionApp(
        service,
        settings,
        Scanner(settings.code_hash_key, settings.guessing_limit, batches_known=batches_known),
        ScannerStore(scanner_pool(settings.dsn, settings.scanner_pool_size), service.outbox, settings.guessing_limit),
    )
    service.include_router(api.router(app))
    consumers.register(service)

    @service.background
    async def close_scanner_pool_at_shutdown(_: Service) -> None:
        try:
            await asyncio.Event().wait()  # until the service stops (it cancels its background tasks)
        finally:
            await app.scanner_store.close()

    @service.every(3600)
    async def forget_old_idempotency_keys(_: Service) -> None:
        await app.scanner_store.forget_old_keys(timedelta(days=settings.idempotency_key_retention_days))

    return service
