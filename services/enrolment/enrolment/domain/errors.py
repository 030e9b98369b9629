"""Refusals of the enrolment domain: a stable code, a French sentence for a person, details.

The HTTP status of each code is decided in one place, the API layer; the domain only says why.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar


class DomainError(Exception):
    code: ClassVar[str] = "DOMAIN_ERROR"

    def __init__(self, message: str, details: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = dict(details or {})


class ValidationFailed(DomainError):
    """Malformed or out-of-range fields, each with its reason, in the shape the runtime gives
    to request validation errors: details["fields"] = [{"field": "student.birth_date", "problem": ...}]."""

    code = "VALIDATION_ERROR"

    def __init__(self, fields: Mapping[str, str]) -> None:
        super().__init__(
            "Certains champs sont manquants ou invalides : vérifiez la saisie.",
            {"fields": [{"field": name, "problem": problem} for name, problem in fields.items()]},
        )
        self.fields = dict(fields)


class CampaignCalendarInvalid(DomainError):
    code = "CAMPAIGN_CALENDAR_INVALID"


class UnknownCampaign(DomainError):
    code = "UNKNOWN_CAMPAIGN"


class UnknownSchool(DomainError):
    code = "UNKNOWN_SCHOOL"


class UnknownApplication(DomainError):
    code = "UNKNOWN_APPLICATION"


class EnrolmentClosed(DomainError):
    code = "ENROLMENT_CLOSED"


class NotResident(DomainError):
    code = "NOT_RESIDENT"


class LevelNotEligible(DomainError):
    code = "LEVEL_NOT_ELIGIBLE"


class BirthDateImplausible(DomainError):
    code = "BIRTH_DATE_IMPLAUSIBLE"


class DuplicateApplication(DomainError):
    code = "DUPLICATE_APPLICATION"


class ApplicationNotPending(DomainError):
    code = "APPLICATION_NOT_PENDING"


class WalletAlreadyRecorded(DomainError):
    """A second, different wallet announced for an application that already has one."""

    code = "WALLET_ALREADY_RECORDED"


class ApplicationNotValidated(DomainError):
    """A wallet announced for an application that was never validated."""

    code = "APPLICATION_NOT_VALIDATED"


class RosterTooLarge(DomainError):
    code = "ROSTER_TOO_LARGE"
