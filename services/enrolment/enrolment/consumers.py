"""Kafka handlers of the enrolment service: each one line, the use case in a unit of work that
joins the runtime's consumer transaction (which also records the event in the inbox)."""

from __future__ import annotations

import asyncpg

from carnet_contracts.envelope import Envelope
from carnet_contracts.events import WalletCreated
from carnet_runtime import Service

from .application import applications
from .store import EnrolmentUnitOfWork


def register(service: Service) -> None:
    @service.on(WalletCreated)
    async def wallet_created(conn: asyncpg.Connection, event: WalletCreated, envelope: Envelope) -> None:
        await applications.record_wallet(EnrolmentUnitOfWork.joining(conn, service.outbox), event)
