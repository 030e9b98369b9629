"""Kafka handlers of the enrolment service: parse the contract, call the domain."""

from __future__ import annotations

import asyncpg

from carnet_contracts.envelope import Envelope
from carnet_contracts.events import WalletCreated
from carnet_runtime import Service

from . import store
from .domain import UnknownApplication


def register(service: Service) -> None:
    @service.on(WalletCreated)
    async def wallet_created(conn: asyncpg.Connection, event: WalletCreated, envelope: Envelope) -> None:
        """The family's progress shows wallet_ready with the wallet id once its wallet exists.

        A wallet for an unknown or unvalidated application is a contract breach: the domain
        refuses it and the runtime sends the message to the dead-letter topic.
        """
        found = await store.get_application(conn, event.application_id, for_update=True)
        if found is None:
            raise UnknownApplication("unknown application", {"application_id": event.application_id})
        progress = found.progress.wallet_ready(event.wallet_id, event.created_at)
        if progress is not found.progress:
            await store.save_progress(conn, found, progress)
