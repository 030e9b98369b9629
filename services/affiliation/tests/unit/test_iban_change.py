"""An IBAN change's code: it confirms that IBAN for that organisation only, under the limits of every
e-mailed code (a new code never gives more tries)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from carnet_runtime import Refusal

from affiliation.domain.iban_change import confirm_change, request_change
from affiliation.domain.keyed_hash import KeyedHash
from affiliation.domain.one_time_code import OtpPolicy
from affiliation.domain.organisation import Address, Affiliate, register_organisation

NOW = datetime(2026, 6, 3, 9, 0, tzinfo=UTC)
POLICY = OtpPolicy(keyed=KeyedHash("test-key-" + "0" * 32), ttl=timedelta(minutes=10), max_attempts=3,
                   max_issues=3, issue_window=timedelta(hours=1))
OLD_IBAN = "FR7630006000011234567890189"
NEW_IBAN = "DE89370400440532013000"
OTHER_IBAN = "FR1420041010050500013M02606"
AFFILIATE = Affiliate(
    "aff-1",
    register_organisation(name="Club", siret="73282932000074", activity="sport",
                          address=Address("1 rue du Stade", "92160", "Antony"), contact_email="c@example.org",
                          iban=OLD_IBAN),
    None, "club-k7m4p", NOW,
)


def at(minutes: float) -> datetime:
    return NOW + timedelta(minutes=minutes)


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def test_the_right_code_confirms_the_new_iban_once_and_the_clear_code_is_never_kept():
    change, code = request_change(None, AFFILIATE, "DE89 3704 0044 0532 0130 00", "club-k7m4p", NOW, POLICY)
    assert change.new_iban == NEW_IBAN and code not in repr(change)
    confirmed, new_iban, refusal = confirm_change(change, code, at(1), POLICY)
    assert (new_iban, refusal, confirmed.new_iban) == (NEW_IBAN, None, None)
    with pytest.raises(Refusal) as again:
        confirm_change(confirmed, code, at(2), POLICY)
    assert again.value.code == "IBAN_CHANGE_NOT_REQUESTED"


def test_a_code_confirms_only_the_iban_it_was_sent_for():
    first, first_code = request_change(None, AFFILIATE, NEW_IBAN, "club", NOW, POLICY)
    second, second_code = request_change(first, AFFILIATE, OTHER_IBAN, "club", at(1), POLICY)
    _, new_iban, refusal = confirm_change(second, first_code, at(2), POLICY)
    if first_code != second_code:  # one chance in a million that both draws are the same code
        assert new_iban is None and refusal.code == "OTP_INVALID"
    _, new_iban, refusal = confirm_change(second, second_code, at(2), POLICY)
    assert new_iban == OTHER_IBAN and refusal is None


def test_an_invalid_or_unchanged_iban_is_refused_before_any_code_is_sent():
    with pytest.raises(Refusal) as invalid:
        request_change(None, AFFILIATE, "FR7630006000011234567890188", "club", NOW, POLICY)
    assert invalid.value.code == "INVALID_IBAN"
    with pytest.raises(Refusal) as unchanged:
        request_change(None, AFFILIATE, OLD_IBAN, "club", NOW, POLICY)
    assert unchanged.value.code == "VALIDATION_ERROR"
    assert unchanged.value.details["fields"] == [{"field": "iban", "problem": "unchanged"}]


def test_wrong_codes_are_counted_across_new_codes_and_burn_the_code_then_no_new_code_before_the_window_ends():
    change, code = request_change(None, AFFILIATE, NEW_IBAN, "club", NOW, POLICY)
    change, _, refusal = confirm_change(change, wrong(code), at(1), POLICY)
    assert refusal.details["attempts_left"] == 2
    change, code = request_change(change, AFFILIATE, NEW_IBAN, "club", at(2), POLICY)  # a new code: no new tries
    change, _, refusal = confirm_change(change, wrong(code), at(3), POLICY)
    change, _, refusal = confirm_change(change, wrong(code), at(4), POLICY)
    assert refusal.details["attempts_left"] == 0
    with pytest.raises(Refusal) as burnt:
        confirm_change(change, code, at(5), POLICY)
    assert burnt.value.code == "OTP_EXPIRED"
    with pytest.raises(Refusal) as limited:
        request_change(change, AFFILIATE, NEW_IBAN, "club", at(6), POLICY)
    assert limited.value.code == "OTP_LIMIT_REACHED" and limited.value.retry_after == 54 * 60
    renewed, code = request_change(change, AFFILIATE, NEW_IBAN, "club", at(61), POLICY)
    assert confirm_change(renewed, code, at(62), POLICY)[1] == NEW_IBAN


def test_codes_are_sent_a_limited_number_of_times_per_window_and_expire():
    change, code = None, ""
    for minute in range(POLICY.max_issues):
        change, code = request_change(change, AFFILIATE, NEW_IBAN, "club", at(minute), POLICY)
    with pytest.raises(Refusal) as limited:
        request_change(change, AFFILIATE, NEW_IBAN, "club", at(5), POLICY)
    assert limited.value.code == "OTP_LIMIT_REACHED" and limited.value.details["codes_sent"] == 3
    with pytest.raises(Refusal) as expired:
        confirm_change(change, code, at(2 + 10), POLICY)
    assert expired.value.code == "OTP_EXPIRED"
