"""The composition root: settings, the runtime's service, the store, routes and handlers."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from pathlib import Path

from carnet_runtime import Service

from . import api, consumers
from .scanner import Scanner
from .settings import RedemptionSettings
from .store import RedemptionStore

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def create_service(settings: RedemptionSettings | None = None) -> Service:
    settings = settings or RedemptionSettings()
    service = Service(
        settings,
        title="Carnet redemption",
        description="Affiliate scanners redeem tickets here: the double-spend guard of the Pass.",
        migrations=MIGRATIONS,
    )
    store = RedemptionStore(lambda: service.pool, settings.guessing_limit)
    scanner = Scanner(store, settings.code_hash_key, settings.guessing_limit)
    service.include_router(api.router(scanner))
    consumers.register(service, store)

    @service.background
    async def forget_old_idempotency_keys(_: Service) -> None:
        retention = timedelta(days=settings.idempotency_key_retention_days)
        while True:
            try:
                await store.forget_old_keys(retention)
            except Exception as exc:  # the database may be away for a while; try again next hour
                log.warning("idempotency key housekeeping failed", extra={"error": type(exc).__name__})
            await asyncio.sleep(3600)

    return service
