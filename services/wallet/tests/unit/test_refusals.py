"""The one refusal table: every code the package raises is in it, and API.md's codes keep their status."""

from __future__ import annotations

import re
from pathlib import Path

from carnet_runtime.errors import RUNTIME_REFUSALS
from wallet.refusals import REFUSALS

PACKAGE = Path(__file__).resolve().parents[2] / "wallet"


def test_every_refusal_code_raised_in_the_package_has_its_status_in_the_table():
    raised = set()
    for source in PACKAGE.rglob("*.py"):
        text = source.read_text(encoding="utf-8")
        raised |= set(re.findall(r'Refusal\(\s*"([A-Z_]+)"', text))
        raised |= set(re.findall(r'forbidden\([^)]*?"([A-Z_]+)"\)', text, flags=re.S))
    assert raised, "the search found the package's refusals"
    assert sorted(raised - set(REFUSALS) - set(RUNTIME_REFUSALS)) == []
    assert sorted(set(REFUSALS) - raised) == [], "no code in the table that nothing raises"


def test_the_codes_of_api_md_keep_their_status():
    assert {c: REFUSALS[c] for c in ("AMOUNT_OUT_OF_RANGE", "ALLOWANCE_EXCEEDED", "TICKET_NOT_BLANK", "PASS_EXPIRED",
                                     "AFFILIATE_NOT_ACTIVE")} == {
        "AMOUNT_OUT_OF_RANGE": 422, "ALLOWANCE_EXCEEDED": 409, "TICKET_NOT_BLANK": 409, "PASS_EXPIRED": 409,
        "AFFILIATE_NOT_ACTIVE": 422}
