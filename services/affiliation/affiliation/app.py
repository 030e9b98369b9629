"""The composition root: settings, the runtime's service, routes, consumers, the reminder task."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from pathlib import Path

from carnet_runtime import Service
from carnet_runtime.auth import TokenSigner, ensure_keypair

from . import consumers, store
from .api import build_router, install_refusals, remind_logins
from .domain.reimbursement import PARIS
from .settings import AffiliationSettings
from .wiring import Affiliation

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent.parent / "migrations"


def create(settings: AffiliationSettings | None = None) -> Affiliation:
    settings = settings or AffiliationSettings()
    service = Service(
        settings,
        title="Carnet affiliation",
        description="Affiliated organisations, their accounts, the electronic convention, reimbursements.",
        migrations=MIGRATIONS,
    )
    if settings.signing_key is None:
        # local stack: the key pair is made on first start, its public half beside the others
        ensure_keypair(settings.keys_dir, "affiliation")
    app = Affiliation(
        settings=settings,
        service=service,
        hashing=settings.password_hashing(),
        signer=TokenSigner(settings.affiliate_key_path),
        convention=settings.convention(),
    )
    install_refusals(service.api)
    service.include_router(build_router(app))
    consumers.register(service)

    @service.background
    async def login_reminders(_: Service) -> None:
        """On each campaign's opening day, every active organisation is reminded of its login."""
        while True:
            try:
                now = datetime.now(UTC)
                async with service.transaction() as conn:
                    for campaign in await store.campaigns_due_for_reminders(conn, now.astimezone(PARIS).date()):
                        reminded = await remind_logins(app, conn, campaign, now)
                        log.info("logins reminded", extra={"campaign_id": campaign["campaign_id"], "count": reminded})
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # database away: try again at the next tick
                log.warning("login reminders postponed", extra={"error": type(exc).__name__})
            await asyncio.sleep(settings.reminder_poll_seconds)

    return app


def create_service(settings: AffiliationSettings | None = None) -> Service:
    return create(settings).service
