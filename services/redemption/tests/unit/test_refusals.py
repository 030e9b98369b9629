import ast
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from carnet_runtime.errors import RUNTIME_REFUSALS, RefusalStatuses
from carnet_runtime.http import refusal_response
from redemption import domain as d
from redemption import messages
from redemption import views
from redemption.application import TicketCheck
from redemption.refusals import REFUSALS

PACKAGE = Path(d.__file__).parent


def test_every_refusal_code_has_its_api_status():
    codes = {value for name, value in vars(d).items() if name.isupper() and isinstance(value, str) and name == value}
    assert codes == set(REFUSALS)
    assert REFUSALS["CODE_MALFORMED"] == 422
    assert REFUSALS["TICKET_UNKNOWN"] == 404
    assert REFUSALS["AFFILIATE_NOT_ACTIVE"] == 403
    assert REFUSALS["IDEMPOTENCY_KEY_REUSED"] == 422
    assert REFUSALS["TOO_MANY_UNKNOWN_CODES"] == 429
    assert {REFUSALS[c] for c in ("TICKET_ALREADY_REDEEMED", "TICKET_EXPIRED", "TICKET_VOIDED",
                                  "TICKET_RESERVED_FOR_OTHER_AFFILIATE")} == {409}
    RefusalStatuses(REFUSALS)  # the runtime accepts the table: no code of its own given another status


def raised_codes() -> dict[str, str]:
    """Every code given to `Refusal(...)` in the package's source (a literal or a domain constant), and
    every code of the refusals whose message never changes (messages._ALWAYS_SAID) -> where."""
    found = {code: "messages.py:_ALWAYS_SAID" for code in messages._ALWAYS_SAID}
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Refusal" and node.args):
                continue
            code = node.args[0]
            if isinstance(code, ast.Constant):
                found[code.value] = f"{path.name}:{node.lineno}"
            elif not (isinstance(code, ast.Name) and code.id == "code"):  # _always(code): the table above
                name = code.id if isinstance(code, ast.Name) else code.attr
                found[getattr(d, name)] = f"{path.name}:{node.lineno}"
    return found


def test_every_code_raised_in_the_package_has_a_status_in_the_table():
    raised = raised_codes()
    assert "TICKET_UNKNOWN" in raised and "VALIDATION_ERROR" in raised  # the scan sees both spellings
    missing = {code: where for code, where in raised.items() if code not in REFUSALS and code not in RUNTIME_REFUSALS}
    assert not missing


def test_a_throttled_affiliate_is_told_when_to_retry_in_a_header():
    refusal = d.too_many_unknown_codes(timedelta(seconds=42), datetime(2027, 1, 1, tzinfo=UTC))
    answer = refusal_response(refusal, RefusalStatuses(REFUSALS))
    assert answer.status_code == 429
    assert answer.headers["Retry-After"] == "42"
    assert json.loads(answer.body)["error"]["details"] == {"retry_after_seconds": 42}


def test_a_check_answer_keeps_redeemable_false_beside_the_error():
    ticket = d.Ticket("t", "w", "c", 1000, date(2027, 3, 31))
    answer = views.ticket_check(TicketCheck(None, refusal=d.ticket_expired(ticket), amount_cents=1000))
    body = json.loads(answer.body)
    assert answer.status_code == 409
    assert body["redeemable"] is False and body["error"]["code"] == "TICKET_EXPIRED"
    assert body["amount_cents"] == 1000
