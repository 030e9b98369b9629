"""What the routes, consumers and periodic tasks share: the runtime's service, the settings, and the
use cases built on them."""

from __future__ import annotations

from dataclasses import dataclass

from carnet_runtime.composition import ServiceApp

from .application import Accounts, Campaigns, Conventions, IbanChanges, Organisations, Privacy, Reimbursements
from .settings import AffiliationSettings
from .store import AffiliationUnitOfWork


@dataclass(frozen=True)
class Affiliation(ServiceApp[AffiliationSettings, AffiliationUnitOfWork]):
    unit_of_work = AffiliationUnitOfWork
    organisations: Organisations
    iban_changes: IbanChanges
    accounts: Accounts
    conventions: Conventions
    campaigns: Campaigns
    reimbursements: Reimbursements
    privacy: Privacy
