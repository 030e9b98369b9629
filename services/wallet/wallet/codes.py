"""Ticket codes at rest: a spendable code is never written to the database in clear.

Each code is sealed with AES-256-GCM (authenticated: a changed byte is detected) under the first
key of `CARNET_WALLET_CODE_KEYS`; every key of that setting opens what it sealed, so a key is
rotated by putting a new one first: the periodic re-encryption moves every code under it, then the
old key can be removed. The sealed bytes are bound to where they are kept (the ticket, its pending
replacement, or one e-mail's snapshot) as associated data, so a ciphertext copied to another row
does not open. Uniqueness is held by the code's keyed hash (the one redemption knows), never the code.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from uuid import UUID

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from carnet_contracts import ticket_code

NONCE_BYTES = 12
# Codes credited before codes were encrypted: migration 0002 moved them under this key id, and the
# re-encryption seals them under the first key at the service's start (then nothing is under it).
LEGACY_CLEARTEXT = "cleartext"


class UnknownCodeKey(LookupError):
    """A code sealed under a key that CARNET_WALLET_CODE_KEYS no longer holds."""


@dataclass(frozen=True)
class Sealed:
    key_id: str
    ciphertext: bytes  # nonce, then the ciphertext and its tag


def ticket_place(ticket_id: UUID) -> str:
    return f"ticket:{ticket_id}"


def pending_place(ticket_id: UUID) -> str:
    return f"pending:{ticket_id}"


def snapshot_place(request_id: UUID, ticket_id: UUID) -> str:
    return f"snapshot:{request_id}:{ticket_id}"


class CodeVault:
    def __init__(self, keys: Mapping[str, bytes], hash_key: bytes):
        if not keys:
            raise ValueError("at least one code key is needed")
        if LEGACY_CLEARTEXT in keys:
            raise ValueError(f"{LEGACY_CLEARTEXT!r} is not a usable key id")
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys.items()}
        self.current_key_id = next(iter(keys))
        self._hash_key = hash_key

    @property
    def key_ids(self) -> list[str]:
        return list(self._ciphers)

    def seal(self, code: str, place: str) -> Sealed:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[self.current_key_id].encrypt(nonce, code.encode("ascii"), place.encode())
        return Sealed(self.current_key_id, nonce + sealed)

    def open(self, sealed: Sealed, place: str) -> str:
        if sealed.key_id == LEGACY_CLEARTEXT:
            return sealed.ciphertext.decode("ascii")
        cipher = self._ciphers.get(sealed.key_id)
        if cipher is None:
            raise UnknownCodeKey(f"no key {sealed.key_id!r} in CARNET_WALLET_CODE_KEYS")
        nonce, body = sealed.ciphertext[:NONCE_BYTES], sealed.ciphertext[NONCE_BYTES:]
        return cipher.decrypt(nonce, body, place.encode()).decode("ascii")

    def hash(self, code: str) -> str:
        """The keyed hash redemption knows the code by (HMAC-SHA256 with CARNET_TICKET_CODE_HASH_KEY)."""
        return ticket_code.code_hash(code, self._hash_key)

    def seal_optional(self, code: str | None, place: str) -> Sealed | None:
        return self.seal(code, place) if code is not None else None

    def open_optional(self, key_id: str | None, ciphertext: bytes | None, place: str) -> str | None:
        if key_id is None or ciphertext is None:
            return None
        return self.open(Sealed(key_id, bytes(ciphertext)), place)
