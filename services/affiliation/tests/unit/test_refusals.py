import re
from pathlib import Path

from carnet_runtime.errors import RefusalStatuses

from affiliation.refusals import REFUSALS

PACKAGE = Path(__file__).resolve().parents[2] / "affiliation"


def test_every_refusal_code_the_service_raises_has_its_http_status_in_the_one_table():
    source = "\n".join(p.read_text(encoding="utf-8") for p in PACKAGE.rglob("*.py"))
    codes = set(re.findall(r'Refusal\(\s*"([A-Z_]+)"', source))
    codes |= set(re.findall(r'^\s*"([A-Z_]+_TOKEN_[A-Z]+)",$', source, flags=re.MULTILINE))
    assert {"INVALID_SIRET", "ACTIVATION_TOKEN_EXPIRED", "OTP_INVALID", "ACCOUNT_LOCKED", "OTP_LIMIT_REACHED"} <= codes
    statuses = RefusalStatuses(REFUSALS)  # the runtime's codes and the service's, as the runtime merges them
    assert {code for code in codes if statuses.status(code) is None} == set()


def test_the_statuses_of_api_md_are_kept():
    assert REFUSALS["WEAK_PASSWORD"] == 422
    assert REFUSALS["ACCOUNT_LOCKED"] == 429
    assert REFUSALS["INVALID_CREDENTIALS"] == 401
    assert REFUSALS["INVALID_SIRET"] == REFUSALS["INVALID_IBAN"] == 422


def test_the_service_has_no_refusal_type_or_error_handler_of_its_own():
    source = "\n".join(p.read_text(encoding="utf-8") for p in PACKAGE.rglob("*.py"))
    assert "class Refusal" not in source and "exception_handler" not in source
    # the client address is request.client.host: uvicorn believes X-Forwarded-For from trusted proxies only
    assert not re.search(r"headers.{0,20}forwarded", source, flags=re.IGNORECASE)
