"""The affiliation service's SQL, written out, in repositories that return domain objects, and the
unit of work that gives them one transaction."""

from __future__ import annotations

from carnet_runtime import PostgresUnitOfWork

from .accounts import LoginFailureRepository, TokenRepository
from .affiliates import AffiliateRepository, AuditTrailRepository, IbanChangeRepository
from .campaigns import CampaignRepository
from .reimbursements import AssignedTicketRepository, BatchRepository, StatementRepository


class AffiliationUnitOfWork(PostgresUnitOfWork):
    affiliates: AffiliateRepository
    audit: AuditTrailRepository
    iban_changes: IbanChangeRepository
    tokens: TokenRepository
    login_failures: LoginFailureRepository
    campaigns: CampaignRepository
    assigned_tickets: AssignedTicketRepository
    statements: StatementRepository
    batches: BatchRepository

