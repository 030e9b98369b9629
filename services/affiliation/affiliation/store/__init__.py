"""The affiliation service's SQL, written out, in repositories that return domain objects, and the
unit of work that gives them one transaction."""

from __future__ import annotations

import asyncpg

from carnet_runtime import PostgresUnitOfWork

from .accounts import LoginFailureRepository, TokenRepository
from .affiliates import AffiliateRepository, AuditTrailRepository
from .campaigns import CampaignRepository
from .reimbursements import AssignedTicketRepository, BatchRepository, StatementRepository


class AffiliationUnitOfWork(PostgresUnitOfWork):
    affiliates: AffiliateRepository
    audit: AuditTrailRepository
    tokens: TokenRepository
    login_failures: LoginFailureRepository
    campaigns: CampaignRepository
    assigned_tickets: AssignedTicketRepository
    statements: StatementRepository
    batches: BatchRepository

    def bind(self, conn: asyncpg.Connection) -> None:
        self.affiliates = AffiliateRepository(conn)
        self.audit = AuditTrailRepository(conn)
        self.tokens = TokenRepository(conn)
        self.login_failures = LoginFailureRepository(conn)
        self.campaigns = CampaignRepository(conn)
        self.assigned_tickets = AssignedTicketRepository(conn)
        self.statements = StatementRepository(conn)
        self.batches = BatchRepository(conn)
