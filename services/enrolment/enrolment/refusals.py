"""Every refusal code the enrolment service raises, and its HTTP status: the one table.

The runtime adds its own codes (VALIDATION_ERROR 422, FORBIDDEN 403, NOT_FOUND 404,
PAYLOAD_TOO_LARGE 413, the 401s...). API.md names NOT_RESIDENT, ENROLMENT_CLOSED,
DUPLICATE_APPLICATION, UNKNOWN_CAMPAIGN and UNKNOWN_SCHOOL; the README lists when each is raised.
"""

from __future__ import annotations

REFUSALS: dict[str, int] = {
    # the form and the campaign's rules
    "CAMPAIGN_CALENDAR_INVALID": 422,
    "NOT_RESIDENT": 422,
    "LEVEL_NOT_ELIGIBLE": 422,
    "BIRTH_DATE_IMPLAUSIBLE": 422,
    "ROSTER_TOO_LARGE": 422,
    # the state of things
    "ENROLMENT_CLOSED": 409,
    "DUPLICATE_APPLICATION": 409,
    "APPLICATION_NOT_PENDING": 409,
    # a WalletCreated the enrolment cannot record (the message goes to the dead-letter topic)
    "WALLET_ALREADY_RECORDED": 409,
    "APPLICATION_NOT_VALIDATED": 409,
    # what does not exist
    "UNKNOWN_CAMPAIGN": 404,
    "UNKNOWN_SCHOOL": 404,
    "UNKNOWN_APPLICATION": 404,
    # who may act
    "NOT_SCHOOL_CORRESPONDENT": 403,
}
