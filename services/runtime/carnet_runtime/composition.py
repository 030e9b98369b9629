"""What a service's composition root hands to its routes, consumers and periodic work."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

import asyncpg

from .service import Service
from .settings import ServiceSettings
from .uow import PostgresUnitOfWork

SettingsT = TypeVar("SettingsT", bound=ServiceSettings)
UnitOfWorkT = TypeVar("UnitOfWorkT", bound=PostgresUnitOfWork)


@dataclass(frozen=True)
class ServiceApp(Generic[SettingsT, UnitOfWorkT]):
    """The runtime's service, the settings, and units of work of the service's own class
    (`unit_of_work`); a subclass adds its use cases and whatever else they are built with."""

    unit_of_work: ClassVar[type[Any]]

    service: Service
    settings: SettingsT

    def uow(self) -> UnitOfWorkT:
        """A unit of work in its own transaction on the service's pool (a request, a periodic task)."""
        return self.unit_of_work(self.service.pool, self.service.outbox)

    def joining(self, conn: asyncpg.Connection) -> UnitOfWorkT:
        """A unit of work inside a consumer's transaction (the runtime commits it with the inbox row)."""
        return self.unit_of_work.joining(conn, self.service.outbox)
