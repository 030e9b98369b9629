"""Convention codes: kept keyed, a limited number sent and tried per window (issue 12)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from carnet_runtime import Refusal

from affiliation.domain import convention as c
from affiliation.domain.keyed_hash import KeyedHash

DOC = c.ConventionDocument(version="2026-1", text="Convention d'affiliation au Pass.")
NOW = datetime(2026, 6, 3, 9, 0, tzinfo=UTC)
KEYED = KeyedHash("test-key-" + "0" * 32)
POLICY = c.OtpPolicy(keyed=KEYED, ttl=timedelta(minutes=10), max_attempts=5, max_issues=3,
                     issue_window=timedelta(hours=1))


def ctx(minutes: float = 0) -> c.StepContext:
    return c.StepContext("aff-1", "club-antony-k7m4p", "203.0.113.7", NOW + timedelta(minutes=minutes))


def accepted() -> c.ConventionProgress:
    progress, _ = c.read(c.ConventionProgress(), DOC, DOC.sha256, ctx())
    progress, _ = c.accept(progress, DOC, ctx())
    return progress


def test_the_code_is_kept_as_an_hmac_under_the_key_never_a_plain_hash():
    progress, _, otp = c.issue_otp(accepted(), DOC, ctx(), POLICY)
    assert progress.otp_hash == KEYED.of("otp", "aff-1", otp)
    assert progress.otp_hash != KeyedHash("another-key-" + "0" * 32).of("otp", "aff-1", otp)
    assert hashlib.sha256(f"aff-1:{otp}".encode()).hexdigest() not in progress.otp_hash


def test_a_new_code_keeps_the_count_of_wrong_tries():
    progress, _, otp = c.issue_otp(accepted(), DOC, ctx(), POLICY)
    progress, _, refusal = c.sign(progress, DOC, f"{(int(otp) + 1) % 10**6:06d}", ctx(1), POLICY)
    assert refusal.details["attempts_left"] == 4
    progress, _, _ = c.issue_otp(progress, DOC, ctx(2), POLICY)
    assert progress.otp_failed_attempts == 1


def test_codes_beyond_the_limit_are_refused_until_the_window_ends_then_counts_start_again():
    progress = accepted()
    for minute in range(POLICY.max_issues):
        progress, _, _ = c.issue_otp(progress, DOC, ctx(minute), POLICY)
    with pytest.raises(Refusal) as refused:
        c.issue_otp(progress, DOC, ctx(30), POLICY)
    assert refused.value.code == "OTP_LIMIT_REACHED" and refused.value.retry_after == 30 * 60
    progress, _, _ = c.issue_otp(progress, DOC, ctx(60), POLICY)
    assert (progress.otp_issues, progress.otp_failed_attempts) == (1, 0)


def test_once_the_tries_are_used_up_no_new_code_is_sent_before_the_window_ends():
    progress, _, otp = c.issue_otp(accepted(), DOC, ctx(), POLICY)
    for _ in range(POLICY.max_attempts):
        progress, _, refusal = c.sign(progress, DOC, f"{(int(otp) + 1) % 10**6:06d}", ctx(1), POLICY)
    assert refusal.details["attempts_left"] == 0
    with pytest.raises(Refusal) as refused:
        c.issue_otp(progress, DOC, ctx(2), POLICY)
    assert refused.value.code == "OTP_LIMIT_REACHED" and refused.value.retry_after == 58 * 60
