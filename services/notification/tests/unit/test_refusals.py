"""The one table of refusals: every code the package raises has its status, and nothing else answers."""

from __future__ import annotations

import re
from pathlib import Path

from carnet_runtime.errors import RUNTIME_REFUSALS, RefusalStatuses
from notification.refusals import REFUSALS

PACKAGE = Path(__file__).resolve().parents[2] / "notification"


def _source() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in PACKAGE.rglob("*.py"))


def test_every_code_raised_in_the_package_has_its_status_in_the_table():
    codes = set(re.findall(r'Refusal\(\s*"([A-Z_]+)"', _source()))
    assert {"INVALID_RECIPIENT", "BROADCAST_NOT_FOUND", "TOKEN_NOT_LINKABLE"} <= codes  # the grep sees them
    assert codes - set(REFUSALS) - set(RUNTIME_REFUSALS) == set()
    assert set(REFUSALS) - codes == set(), "codes in the table that nothing raises"


def test_the_statuses_clients_see_are_kept():
    statuses = RefusalStatuses(REFUSALS)
    assert statuses.status("INVALID_RECIPIENT") == 422
    assert statuses.status("BROADCAST_NOT_FOUND") == 404
    assert statuses.status("VALIDATION_ERROR") == 422


def test_the_service_has_no_refusal_type_or_error_handler_of_its_own():
    source = _source()
    assert "class Refusal" not in source and "exception_handler" not in source and "NotificationError" not in source
    assert not re.search(r"\b(DomainError|NotFound|Invalid|Conflict)\b", source)
