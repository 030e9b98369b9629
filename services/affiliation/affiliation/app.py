"""The composition root: settings, the runtime's service, the use cases, routes, consumers and
periodic work."""

from __future__ import annotations

import functools
from pathlib import Path

from carnet_contracts.sealing import seal
from carnet_runtime import Service
from carnet_runtime.auth import TokenSigner, ensure_keypair

from . import api, consumers
from .application import (
    Accounts,
    AffiliateTokens,
    Campaigns,
    Conventions,
    IbanChanges,
    Organisations,
    Privacy,
    Reimbursements,
)
from .refusals import REFUSALS
from .settings import AffiliationSettings
from .wiring import Affiliation

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
# What /openapi.json says the service is for.
DESCRIPTION = "Affiliated organisations, their accounts, the electronic convention, reimbursements."


def create_service(settings: AffiliationSettings | None = None) -> Service:
    settings = settings or AffiliationSettings()
    service = Service(settings, title="Carnet affiliation", description=DESCRIPTION, migrations=MIGRATIONS,
                      refusals=REFUSALS)
    if settings.signing_key is None:
        # local stack: the key pair is made on first start, its public half beside the others
        ensure_keypair(settings.keys_dir, "affiliation")
    keyed = settings.keyed_hash()
    sealed = functools.partial(seal, key=settings.seal_key)
    otp_policy = settings.otp_policy()
    app = Affiliation(
        service=service,
        settings=settings,
        organisations=Organisations(keyed=keyed, seal=sealed, activation_ttl=settings.activation_ttl()),
        iban_changes=IbanChanges(otp_policy=otp_policy, seal=sealed),
        accounts=Accounts(
            hashing=settings.password_hashing(),
            keyed=keyed,
            seal=sealed,
            tokens=AffiliateTokens(TokenSigner(settings.affiliate_key_path), settings.access_token_ttl_seconds),
            login_policy=settings.login_policy(),
            reset_ttl=settings.password_reset_ttl(),
        ),
        conventions=Conventions(document=settings.convention(), otp_policy=otp_policy, seal=sealed),
        campaigns=Campaigns(),
        reimbursements=Reimbursements(debtor=settings.debtor(), transfer_delay_days=settings.transfer_delay_days),
        privacy=Privacy(),
    )
    for router in api.routers(app):
        service.include_router(router)
    consumers.register(service, app)

    @service.every(settings.reminder_poll_seconds)
    async def login_reminders(_: Service) -> None:
        """On each campaign's opening day, every active organisation is reminded of its login."""
        await app.campaigns.remind_due(app.uow())

    @service.every(settings.login_failures_purge_seconds)
    async def purge_login_failures(_: Service) -> None:
        """Failed logins hold client addresses: they are kept a day, no longer than the throttle needs."""
        await app.accounts.purge_login_failures(app.uow())

    return service
