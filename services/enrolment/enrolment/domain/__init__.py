"""Enrolment rules and value objects: no I/O, no framework."""

from .application import (
    Address,
    ApplicationForm,
    ApplicationProgress,
    ApplicationStatus,
    Guardian,
    StatusChange,
    Student,
    StudentKey,
    parse_reason,
)
from .campaign import PARIS, Campaign, CampaignCalendar, age_on, paris_day
from .errors import (
    ApplicationNotPending,
    ApplicationNotValidated,
    BirthDateImplausible,
    CampaignCalendarInvalid,
    DomainError,
    DuplicateApplication,
    EnrolmentClosed,
    LevelNotEligible,
    NotResident,
    RosterTooLarge,
    UnknownApplication,
    UnknownCampaign,
    UnknownSchool,
    ValidationFailed,
    WalletAlreadyRecorded,
)
from .export import PendingRow, pending_csv
from .figures import ApplicationFact, figures, percentile
from .school import School
from .roster import RejectedLine, Roster, RosterEntry, parse_roster
from .text import COLLEGE_LEVELS, fold_name, french_date, normalise_level, parse_day

__all__ = [
    "Address", "ApplicationFact", "ApplicationForm", "ApplicationNotPending", "ApplicationNotValidated",
    "ApplicationProgress", "ApplicationStatus", "BirthDateImplausible", "COLLEGE_LEVELS", "Campaign",
    "CampaignCalendar", "CampaignCalendarInvalid", "DomainError", "DuplicateApplication", "EnrolmentClosed",
    "Guardian", "LevelNotEligible", "NotResident", "PARIS", "PendingRow", "RejectedLine", "Roster",
    "RosterEntry", "RosterTooLarge", "School", "StatusChange", "Student", "StudentKey", "UnknownApplication", "UnknownCampaign",
    "UnknownSchool", "ValidationFailed", "WalletAlreadyRecorded", "age_on", "figures", "fold_name",
    "french_date", "normalise_level", "paris_day", "parse_day", "parse_reason", "parse_roster",
    "pending_csv", "percentile",
]
