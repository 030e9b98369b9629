from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carnet_runtime import Refusal

from affiliation.domain.account import (
    PasswordHashing,
    StoredToken,
    TokenPurpose,
    check_password_strength,
    issue_token,
    redeem_token,
)
from affiliation.domain.keyed_hash import KeyedHash

NOW = datetime(2026, 6, 2, 8, 0, tzinfo=UTC)
TTL = timedelta(days=7)
KEYED = KeyedHash("test-key-" + "0" * 32)


def stored(issued, purpose=TokenPurpose.ACTIVATION):
    return StoredToken(affiliate_id="aff-1", purpose=purpose, token_hash=issued.token_hash,
                       expires_at=issued.expires_at)


def test_an_activation_token_is_random_and_only_its_hash_is_kept():
    first, second = issue_token(NOW, TTL, KEYED), issue_token(NOW, TTL, KEYED)
    assert first.clear != second.clear
    assert first.clear not in first.token_hash
    assert len(first.clear) >= 40


def test_a_fresh_activation_token_is_accepted_once_and_marked_used():
    issued = issue_token(NOW, TTL, KEYED)
    used = redeem_token(stored(issued), issued.clear, NOW + timedelta(hours=1), TokenPurpose.ACTIVATION, KEYED)
    assert used.used_at == NOW + timedelta(hours=1)


def test_a_reused_activation_token_is_refused_as_invalid():
    issued = issue_token(NOW, TTL, KEYED)
    used = redeem_token(stored(issued), issued.clear, NOW, TokenPurpose.ACTIVATION, KEYED)
    with pytest.raises(Refusal) as refused:
        redeem_token(used, issued.clear, NOW + timedelta(minutes=1), TokenPurpose.ACTIVATION, KEYED)
    assert refused.value.code == "ACTIVATION_TOKEN_INVALID"
    assert refused.value.details == {"token": "already_used"}


def test_an_expired_activation_token_is_refused_as_expired():
    issued = issue_token(NOW, TTL, KEYED)
    with pytest.raises(Refusal) as refused:
        redeem_token(stored(issued), issued.clear, NOW + TTL, TokenPurpose.ACTIVATION, KEYED)
    assert refused.value.code == "ACTIVATION_TOKEN_EXPIRED"


def test_a_wrong_or_missing_activation_token_is_refused_as_invalid():
    issued = issue_token(NOW, TTL, KEYED)
    for token_row in (stored(issued), None):
        with pytest.raises(Refusal) as refused:
            redeem_token(token_row, "guessed-token", NOW, TokenPurpose.ACTIVATION, KEYED)
        assert refused.value.code == "ACTIVATION_TOKEN_INVALID"


def test_a_password_reset_token_cannot_activate_an_account_and_has_its_own_codes():
    issued = issue_token(NOW, timedelta(hours=1), KEYED)
    reset = stored(issued, TokenPurpose.PASSWORD_RESET)
    with pytest.raises(Refusal) as refused:
        redeem_token(reset, issued.clear, NOW, TokenPurpose.ACTIVATION, KEYED)
    assert refused.value.code == "ACTIVATION_TOKEN_INVALID"
    with pytest.raises(Refusal) as refused:
        redeem_token(reset, issued.clear, NOW + timedelta(hours=2), TokenPurpose.PASSWORD_RESET, KEYED)
    assert refused.value.code == "RESET_TOKEN_EXPIRED"


@pytest.mark.parametrize(
    "password, problem",
    [
        ("Court1!", "too_short"),
        ("toutenminuscules", "too_few_kinds"),
        ("Aa1!Aa1!Aa1!Aa1!", "too_repetitive"),
        ("Club-Antony-00074!", "contains_login"),
        ("MonMotdepasse2026", "too_common"),
    ],
)
def test_a_weak_password_is_refused_with_the_reason(password, problem):
    with pytest.raises(Refusal) as refused:
        check_password_strength(password, "club-antony-00074")
    assert refused.value.code == "WEAK_PASSWORD"
    assert problem in refused.value.details["problems"]
    assert refused.value.details["fields"][0]["field"] == "password"


def test_a_long_mixed_password_is_strong_enough():
    check_password_strength("Tir-a-l'arc 92 Sceaux", "club-antony-00074")


@settings(max_examples=40)
@given(st.text(max_size=11))
def test_no_password_shorter_than_twelve_characters_is_accepted(password):
    with pytest.raises(Refusal):
        check_password_strength(password, "login")


def test_argon2_hashing_verifies_the_right_password_only():
    hashing = PasswordHashing(time_cost=1, memory_cost_kib=1024, parallelism=1)
    password_hash = hashing.hash("Tir-a-l'arc 92 Sceaux")
    assert password_hash.startswith("$argon2id$")
    assert hashing.verify(password_hash, "Tir-a-l'arc 92 Sceaux")
    assert not hashing.verify(password_hash, "tir-a-l'arc 92 sceaux")
    assert not hashing.verify(None, "Tir-a-l'arc 92 Sceaux")
    assert not hashing.verify("not-a-hash", "x")
