"""Composition root: settings, the runtime's service, routes, consumers, the delivery worker."""

from __future__ import annotations

from pathlib import Path

from carnet_runtime import Service

from . import api, consumers
from .delivery import DeliveryWorker, Mailer, TicketSheets, forget_personal_data
from .rendering import Renderer
from .settings import NotificationSettings

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
# The one call this service makes to another: the wallet's ticket sheet (API.md, Wallet).
WALLET_SHEET_SCOPE = "wallet.tickets_pdf"


def create_service(settings: NotificationSettings | None = None) -> Service:
    settings = settings or NotificationSettings()
    service = Service(
        settings,
        title="Carnet notification",
        description="Every e-mail the pass sends: templates, delivery over SMTP with retries, "
        "delivery log, broadcasts.",
        migrations=MIGRATIONS,
    )
    renderer = Renderer(settings.branding())
    service.include_router(api.router)
    consumers.register(service, settings, renderer)

    def wallet_token() -> str:
        # signed per fetch: short-lived, for the wallet's sheet only, and a rotated key is picked up
        return service.service_tokens().for_call("wallet", scope=WALLET_SHEET_SCOPE)

    @service.background
    async def delivery(svc: Service) -> None:
        worker = DeliveryWorker(
            svc.pool, settings, svc.outbox, renderer, Mailer(settings), TicketSheets(settings, wallet_token)
        )
        await worker.run()

    @service.background
    async def retention(svc: Service) -> None:
        await forget_personal_data(svc.pool, settings)

    return service
