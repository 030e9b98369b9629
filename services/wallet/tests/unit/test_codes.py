"""Codes at rest: sealed with AES-GCM under the first key, opened by any key of the setting, bound
to where they are kept; the setting is required and checked."""

from __future__ import annotations

import json
import uuid

import pytest
from cryptography.exceptions import InvalidTag
from pydantic import ValidationError

from carnet_contracts import ticket_code
from wallet.codes import LEGACY_CLEARTEXT, CodeVault, Sealed, UnknownCodeKey, pending_place, ticket_place
from wallet.settings import WalletSettings

OLD, NEW = bytes(range(32)), bytes(range(32, 64))
HASH_KEY = b"h" * 32


def test_a_sealed_code_is_not_the_code_and_opens_back_with_any_key_of_the_setting():
    code, place = ticket_code.generate(), ticket_place(uuid.uuid4())
    old = CodeVault({"old": OLD}, HASH_KEY).seal(code, place)
    assert old.key_id == "old" and code.encode() not in old.ciphertext
    rotated = CodeVault({"new": NEW, "old": OLD}, HASH_KEY)
    assert rotated.open(old, place) == code
    assert rotated.seal(code, place).key_id == "new", "the first key seals"
    with pytest.raises(UnknownCodeKey):
        CodeVault({"new": NEW}, HASH_KEY).open(old, place)


def test_the_same_code_sealed_twice_gives_two_ciphertexts():
    vault, code, place = CodeVault({"k": OLD}, HASH_KEY), ticket_code.generate(), "ticket:x"
    assert vault.seal(code, place).ciphertext != vault.seal(code, place).ciphertext


def test_a_ciphertext_moved_to_another_row_or_altered_does_not_open():
    vault, code, ticket_id = CodeVault({"k": OLD}, HASH_KEY), ticket_code.generate(), uuid.uuid4()
    sealed = vault.seal(code, ticket_place(ticket_id))
    with pytest.raises(InvalidTag):
        vault.open(sealed, ticket_place(uuid.uuid4()))
    with pytest.raises(InvalidTag):
        vault.open(sealed, pending_place(ticket_id))
    altered = Sealed(sealed.key_id, sealed.ciphertext[:-1] + bytes([sealed.ciphertext[-1] ^ 1]))
    with pytest.raises(InvalidTag):
        vault.open(altered, ticket_place(ticket_id))


def test_codes_the_migration_left_in_clear_open_for_re_encryption():
    vault, code = CodeVault({"k": OLD}, HASH_KEY), ticket_code.generate()
    assert vault.open(Sealed(LEGACY_CLEARTEXT, code.encode()), "ticket:x") == code
    assert vault.hash(code) == ticket_code.code_hash(code, HASH_KEY)


def settings(keys: str | None, monkeypatch) -> WalletSettings:
    monkeypatch.setenv("CARNET_TICKET_CODE_HASH_KEY", "h" * 40)
    if keys is None:
        monkeypatch.delenv("CARNET_WALLET_CODE_KEYS", raising=False)
    else:
        monkeypatch.setenv("CARNET_WALLET_CODE_KEYS", keys)
    return WalletSettings()


def test_the_code_keys_are_required_and_read_in_order(monkeypatch):
    with pytest.raises(ValidationError):
        settings(None, monkeypatch)
    read = settings(json.dumps({"2027": NEW.hex(), "2026": OLD.hex()}), monkeypatch)
    assert read.code_key_bytes == {"2027": NEW, "2026": OLD}
    assert list(read.code_key_bytes) == ["2027", "2026"]
    assert NEW.hex() not in repr(read)


@pytest.mark.parametrize("keys", ["", "{}", "not json", '{"k": "short"}', json.dumps({"cleartext": OLD.hex()}),
                                  json.dumps({"bad id!": OLD.hex()}), json.dumps(["k", OLD.hex()])])
def test_malformed_code_keys_stop_the_service(keys, monkeypatch):
    with pytest.raises(ValidationError):
        settings(keys, monkeypatch)
