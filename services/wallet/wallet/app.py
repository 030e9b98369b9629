"""The composition root: settings, the runtime's service, the use cases, routes, handlers and
periodic work."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from carnet_runtime import Service
from carnet_runtime.composition import ServiceApp

from . import api, consumers
from .application import WalletUseCases
from .codes import CodeVault
from .refusals import REFUSALS
from .settings import WalletSettings
from .store import WalletUnitOfWork

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
# What /openapi.json says the service is for.
DESCRIPTION = (
    "The Pass's electronic wallet: its tickets, crediting, assignment, voiding, replacement and "
    "the ticket sheet; paper wallets kept by the school; figures; privacy export."
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WalletApp(ServiceApp[WalletSettings, WalletUnitOfWork]):
    """What the routes, the handlers and the periodic tasks share; its units of work carry the vault
    that opens the ticket codes."""

    unit_of_work = WalletUnitOfWork
    use_cases: WalletUseCases
    vault: CodeVault

    def uow(self) -> WalletUnitOfWork:
        return WalletUnitOfWork(self.service.pool, self.service.outbox, vault=self.vault)

    def joining(self, conn: asyncpg.Connection) -> WalletUnitOfWork:
        return WalletUnitOfWork.joining(conn, self.service.outbox, vault=self.vault)


def create_service(settings: WalletSettings | None = None) -> Service:
    settings = settings or WalletSettings()
    service = Service(settings, title="Carnet wallet", description=DESCRIPTION, migrations=MIGRATIONS,
                      refusals=REFUSALS)
    app = WalletApp(service, settings, WalletUseCases(settings.code_hash_key),
                    CodeVault(settings.code_key_bytes, settings.code_hash_key))
    for router in api.routers(app):
        service.include_router(router)
    consumers.register(app)

    @service.every(settings.code_reencrypt_interval_seconds)
    async def reencrypt_codes(_: Service) -> None:
        while await app.use_cases.reencrypt_codes(app.uow(), settings.code_reencrypt_batch):
            pass
        if stranded := await app.use_cases.stranded_codes(app.uow()):
            log.warning("ticket codes sealed under a key CARNET_WALLET_CODE_KEYS no longer holds",
                        extra={"codes": stranded})

    @service.every(settings.housekeeping_interval_seconds)
    async def housekeeping(_: Service) -> None:
        batch = 200
        while await app.use_cases.remind_expiring(app.uow(), settings.expiry_reminder_days, batch) == batch:
            pass
        await app.use_cases.forget_old_snapshots(app.uow(), settings.snapshot_retention_days)

    return service
