"""A campaign's purge, a guardian's erasure and a person's export: what enrolment records of them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from .application import Application


@dataclass(frozen=True)
class CampaignPurge:
    """A campaign's purge, announced once (CampaignPurgeStarted) with enrolment's share done with it."""

    purge_id: str
    campaign_id: str
    purge_before: datetime
    announced_at: datetime
    requested_by: str  # "schedule" (the periodic check) or "admin"
    applications_anonymised: int
    roster_entries_deleted: int


@dataclass(frozen=True)
class Erasure:
    """What a guardian's erasure touched: never whose address it was."""

    erasure_id: str
    requested_at: datetime
    application_ids: tuple[str, ...]
    wallet_ids: tuple[str, ...]
    family_subs: tuple[str, ...]  # told to the other services, not kept
    campaign_ids: tuple[str, ...]


@dataclass(frozen=True)
class ApplicationRecord:
    """An application with everything enrolment stores about it, for the person's export."""

    application: Application
    entered_by: str | None  # the correspondent who entered a paper form, on the family's behalf
    decided_by: str | None  # the correspondent who validated or rejected it
    validated_at: datetime | None


@dataclass(frozen=True)
class RosterRecord:
    """A line of a school's roster about one of the person's children."""

    school_id: str
    campaign_id: str | None
    last_name: str
    first_name: str
    birth_date: date
    level: str
    line: int
    imported_at: datetime


@dataclass(frozen=True)
class PrivacyExport:
    family_sub: str | None
    email: str | None
    generated_at: datetime
    applications: tuple[ApplicationRecord, ...]
    roster_entries: tuple[RosterRecord, ...]
