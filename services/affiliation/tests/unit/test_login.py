"""The login throttle's rules (affiliation/domain/login.py), without any I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carnet_runtime import Refusal

from affiliation.domain.login import LoginHistory, LoginPolicy, admit, failure_delay_seconds, spray_block

NOW = datetime(2026, 6, 2, 8, 0, tzinfo=UTC)
POLICY = LoginPolicy()


@settings(max_examples=60)
@given(st.integers(min_value=0, max_value=100_000))
def test_a_client_that_never_failed_is_never_refused_and_held_back_at_most_the_cap(account_failures):
    delay = admit(LoginHistory(account_failures=account_failures), NOW, POLICY)
    assert 0 <= delay <= POLICY.max_delay_seconds


@settings(max_examples=60)
@given(st.integers(min_value=0, max_value=200))
def test_failed_logins_are_slowed_more_and_more_but_never_beyond_the_cap(failures):
    delay = failure_delay_seconds(failures, POLICY)
    assert 0 <= delay <= failure_delay_seconds(failures + 1, POLICY) <= POLICY.max_delay_seconds
    if failures <= POLICY.slow_after_failures:
        assert delay == 0


def test_a_client_refused_on_an_account_is_told_when_its_oldest_counted_failure_leaves_the_window():
    failures = tuple(NOW - timedelta(seconds=10 * n) for n in range(POLICY.client_account_limit))  # newest first
    with pytest.raises(Refusal) as refused:
        admit(LoginHistory(client_account_failures=failures), NOW, POLICY)
    assert refused.value.code == "ACCOUNT_LOCKED"
    assert refused.value.retry_after == POLICY.window.seconds - 10 * (POLICY.client_account_limit - 1)


def test_a_spraying_client_is_refused_for_a_block_that_doubles_per_account_up_to_the_cap():
    blocks = [spray_block(n, POLICY) for n in range(POLICY.spray_accounts_limit, POLICY.spray_accounts_limit + 8)]
    assert blocks[:3] == [timedelta(minutes=1), timedelta(minutes=2), timedelta(minutes=4)]
    assert max(blocks) == POLICY.spray_block_max == blocks[-1]
    history = LoginHistory(client_accounts=POLICY.spray_accounts_limit, client_failures=5,
                           client_last_failure=NOW - timedelta(seconds=20))
    with pytest.raises(Refusal) as refused:
        admit(history, NOW, POLICY)
    assert (refused.value.code, refused.value.retry_after) == ("TOO_MANY_FAILED_LOGINS", 40)
    assert admit(history, NOW + timedelta(seconds=40), POLICY) > 0  # the block ends by itself; still slowed
