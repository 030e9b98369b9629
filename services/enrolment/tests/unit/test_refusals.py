"""The one table of refusals: every code the package raises has its status, API.md's as API.md says."""

from __future__ import annotations

import re
from pathlib import Path

from carnet_runtime.errors import RUNTIME_REFUSALS, RefusalStatuses
from enrolment.refusals import REFUSALS

PACKAGE = Path(__file__).resolve().parents[2] / "enrolment"


def raised_codes() -> set[str]:
    found = set()
    for path in PACKAGE.rglob("*.py"):
        found |= set(re.findall(r'Refusal\(\s*"([A-Z_]+)"', path.read_text(encoding="utf-8")))
    return found


def test_every_code_raised_in_the_package_has_its_status_in_the_table():
    codes = raised_codes()
    assert {"NOT_RESIDENT", "ROSTER_TOO_LARGE", "NOT_SCHOOL_CORRESPONDENT"} <= codes  # the grep sees them
    assert codes - set(REFUSALS) - set(RUNTIME_REFUSALS) == set()
    assert set(REFUSALS) - codes == set(), "codes in the table that nothing raises"


def test_api_md_codes_keep_their_statuses():
    statuses = RefusalStatuses(REFUSALS)
    assert {code: statuses.status(code) for code in (
        "NOT_RESIDENT", "ENROLMENT_CLOSED", "DUPLICATE_APPLICATION", "UNKNOWN_CAMPAIGN", "UNKNOWN_SCHOOL",
        "VALIDATION_ERROR", "PAYLOAD_TOO_LARGE")} == {
        "NOT_RESIDENT": 422, "ENROLMENT_CLOSED": 409, "DUPLICATE_APPLICATION": 409, "UNKNOWN_CAMPAIGN": 404,
        "UNKNOWN_SCHOOL": 404, "VALIDATION_ERROR": 422, "PAYLOAD_TOO_LARGE": 413}
