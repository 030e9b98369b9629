"""What the routes, consumers and periodic tasks share: the runtime's service, the settings, and the
use cases built on them."""

from __future__ import annotations

from dataclasses import dataclass

from carnet_runtime import Service

from .application import Accounts, Campaigns, Conventions, Organisations, Reimbursements
from .settings import AffiliationSettings
from .store import AffiliationUnitOfWork


@dataclass
class Affiliation:
    service: Service
    settings: AffiliationSettings
    organisations: Organisations
    accounts: Accounts
    conventions: Conventions
    campaigns: Campaigns
    reimbursements: Reimbursements

    def uow(self) -> AffiliationUnitOfWork:
        """A unit of work on the service's pool: one transaction per `async with`."""
        return AffiliationUnitOfWork(self.service.pool, self.service.outbox)
