"""Composition root: settings, the runtime's service, the app object routes and consumers share,
routes, consumers, and the background work (delivery, the gauge, retention)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from carnet_contracts.sealing import unseal
from carnet_runtime import Service
from carnet_runtime.composition import ServiceApp

from . import api, consumers
from .application.affiliates import AffiliateNotices
from .application.delivery import DeliveryWorker, count_messages_by_state, forget_personal_data
from .application.families import FamilyNotices
from .outbound import Mailer, TicketSheets
from .refusals import REFUSALS
from .rendering import Renderer
from .settings import NotificationSettings
from .store import NotificationUnitOfWork

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
# What /openapi.json says the service is for.
DESCRIPTION = (
    "Every e-mail the pass sends: templates, delivery over SMTP with retries, "
    "delivery log, broadcasts; a person's export and the delivery figures."
)
# The one call this service makes to another: the wallet's ticket sheet (API.md, Wallet).
WALLET_SHEET_SCOPE = "wallet.tickets_pdf"


@dataclass(frozen=True)
class NotificationApp(ServiceApp[NotificationSettings, NotificationUnitOfWork]):
    unit_of_work = NotificationUnitOfWork

    def unseal(self, sealed: str) -> str:
        return unseal(sealed, self.settings.seal_key)

    def wallet_token(self) -> str:
        # signed per fetch: short-lived, for the wallet's sheet only, and a rotated key is picked up
        return self.service.service_tokens().for_call("wallet", scope=WALLET_SHEET_SCOPE)


def create_service(settings: NotificationSettings | None = None) -> Service:
    settings = settings or NotificationSettings()
    service = Service(settings, title="Carnet notification", description=DESCRIPTION, migrations=MIGRATIONS,
                      refusals=REFUSALS)
    app = NotificationApp(service, settings)
    renderer = Renderer(settings.branding())
    service.include_router(api.router(app))
    retention = settings.retention_policy()
    consumers.register(
        service,
        FamilyNotices(renderer, retention, unseal=app.unseal),
        AffiliateNotices(renderer, retention, activation_url=settings.activation_url,
                         password_reset_url=settings.password_reset_url, unseal=app.unseal),
    )
    worker = DeliveryWorker(app.uow, settings, renderer, Mailer(settings), TicketSheets(settings, app.wallet_token),
                            app.unseal)

    @service.every(settings.worker_poll_seconds)
    async def delivery(_: Service) -> None:
        await worker.work()

    @service.every(settings.messages_gauge_seconds)
    async def messages_gauge(_: Service) -> None:
        await count_messages_by_state(app.uow())

    @service.every(settings.retention_sweep_seconds)
    async def retention(_: Service) -> None:
        await forget_personal_data(app.uow(), datetime.now(UTC))

    return service
