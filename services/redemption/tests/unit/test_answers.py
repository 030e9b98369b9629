from datetime import UTC, date, datetime, timedelta

from redemption import domain as d
from redemption.answers import HTTP_STATUS, as_answer


def test_every_refusal_code_has_its_api_status():
    codes = {value for name, value in vars(d).items() if name.isupper() and isinstance(value, str) and name == value}
    assert codes == set(HTTP_STATUS)
    assert HTTP_STATUS["TICKET_UNKNOWN"] == 404
    assert HTTP_STATUS["AFFILIATE_NOT_ACTIVE"] == 403
    assert HTTP_STATUS["IDEMPOTENCY_KEY_REUSED"] == 422
    assert {HTTP_STATUS[c] for c in ("TICKET_ALREADY_REDEEMED", "TICKET_EXPIRED", "TICKET_VOIDED",
                                     "TICKET_RESERVED_FOR_OTHER_AFFILIATE")} == {409}


def test_a_throttled_affiliate_is_told_when_to_retry_in_a_header():
    answer = as_answer(d.too_many_unknown_codes(timedelta(seconds=42), datetime(2027, 1, 1, tzinfo=UTC)))
    assert answer.status == 429
    assert answer.headers == {"Retry-After": "42"}


def test_a_check_answer_keeps_redeemable_false_beside_the_error():
    ticket = d.Ticket("t", "w", "c", 1000, date(2027, 3, 31))
    body = as_answer(d.ticket_expired(ticket), redeemable=False, amount_cents=1000).body()
    assert body["redeemable"] is False and body["error"]["code"] == "TICKET_EXPIRED"
