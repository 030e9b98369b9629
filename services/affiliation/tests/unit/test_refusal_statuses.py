import re
from pathlib import Path

from affiliation.api import STATUS

PACKAGE = Path(__file__).resolve().parents[2] / "affiliation"


def test_every_refusal_code_the_service_raises_has_its_http_status_in_the_one_mapping():
    source = "\n".join(p.read_text(encoding="utf-8") for p in PACKAGE.rglob("*.py"))
    codes = set(re.findall(r'Refusal\(\s*"([A-Z_]+)"', source))
    codes |= set(re.findall(r'^\s*"([A-Z_]+_TOKEN_[A-Z]+)",$', source, flags=re.MULTILINE))
    assert {"INVALID_SIRET", "ACTIVATION_TOKEN_EXPIRED", "OTP_INVALID", "ACCOUNT_LOCKED"} <= codes
    assert codes - set(STATUS) == set()


def test_the_statuses_of_api_md_are_kept():
    assert STATUS["WEAK_PASSWORD"] == 422
    assert STATUS["ACCOUNT_LOCKED"] == 429
    assert STATUS["INVALID_CREDENTIALS"] == 401
    assert STATUS["INVALID_SIRET"] == STATUS["INVALID_IBAN"] == 422
