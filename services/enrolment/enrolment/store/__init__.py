"""The enrolment service's SQL, written out (asyncpg): one repository per aggregate, each running on
the unit of work's connection, inside its transaction, and returning domain objects."""

from __future__ import annotations

from carnet_runtime import PostgresUnitOfWork

from .applications import ApplicationRepository
from .campaigns import CampaignRepository, PurgeRepository
from .privacy import PrivacyRepository
from .rosters import RosterRepository
from .schools import DigestRepository, SchoolRepository


class EnrolmentUnitOfWork(PostgresUnitOfWork):
    campaigns: CampaignRepository
    purges: PurgeRepository
    schools: SchoolRepository
    digests: DigestRepository
    applications: ApplicationRepository
    rosters: RosterRepository
    privacy: PrivacyRepository



__all__ = [
    "ApplicationRepository", "CampaignRepository", "DigestRepository", "EnrolmentUnitOfWork", "PrivacyRepository",
    "PurgeRepository", "RosterRepository", "SchoolRepository",
]
