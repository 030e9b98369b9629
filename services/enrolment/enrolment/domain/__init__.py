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
from .campaign import PARIS, Campaign, CampaignCalendar, age_on
from .export import PendingRow, pending_csv
from .figures import ApplicationFact, figures, percentile
from .roster import RejectedLine, Roster, parse_roster, read_roster
from .school import School
from .text import COLLEGE_LEVELS, fold_name, french_date

__all__ = [
    "COLLEGE_LEVELS", "PARIS", "Address", "Application", "ApplicationFact", "ApplicationForm", "ApplicationProgress",
    "ApplicationStatus", "Campaign", "CampaignCalendar", "Guardian", "PendingRow", "RejectedLine", "Roster", "School",
    "StatusChange", "Student", "StudentKey", "age_on", "figures", "fold_name", "french_date", "parse_roster",
    "pending_csv", "percentile", "read_roster",
]
