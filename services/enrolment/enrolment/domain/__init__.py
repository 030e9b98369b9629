"""Enrolment rules and value objects: no I/O, no framework. Refusals are `carnet_runtime.Refusal`,
their codes listed with their HTTP status in `enrolment.refusals`."""

from .application import (
    Address,
    Application,
    ApplicationForm,
    ApplicationProgress,
    ApplicationStatus,
    Guardian,
    StatusChange,
    Student,
    StudentKey,
)
from .campaign import PARIS, Campaign, CampaignCalendar, age_on, campaign_in_season, paris_day
from .digest import WEEKDAYS, Digest, DigestSchedule, WaitingFile, iso_week
from .email import deliverable_email
from .export import PendingRow, pending_csv
from .figures import ApplicationFact, figures, percentile
from .privacy import ApplicationRecord, CampaignPurge, Erasure, PrivacyExport, RosterRecord
from .roster import RejectedLine, Roster, parse_roster, read_roster
from .school import School
from .text import COLLEGE_LEVELS, fold_name, french_date

__all__ = [
    "COLLEGE_LEVELS", "PARIS", "WEEKDAYS", "Address", "Application", "ApplicationFact", "ApplicationForm",
    "ApplicationProgress", "ApplicationRecord", "ApplicationStatus", "Campaign", "CampaignCalendar", "CampaignPurge",
    "Digest", "DigestSchedule", "Erasure", "Guardian", "PendingRow", "PrivacyExport", "RejectedLine", "Roster",
    "RosterRecord", "School", "StatusChange", "Student", "StudentKey", "WaitingFile", "age_on", "campaign_in_season",
    "deliverable_email", "figures", "fold_name", "french_date", "iso_week", "paris_day", "parse_roster", "pending_csv",
    "percentile", "read_roster",
]
