"""How one-time secrets are kept: an HMAC-SHA256 under the service's own key.

A 6-digit code has a million values: a plain hash of it is reversed by trying them all, so a
copy of the database would give away every live code. Keyed, it is worth nothing without the
key, which lives in the service's settings (CARNET_AFFILIATION_SECRET_KEY), never in the database.
"""

from __future__ import annotations

import hashlib
import hmac


class KeyedHash:
    # Marks a keyed digest, so that a row written before keyed hashing (a plain SHA-256) is told apart.
    PREFIX = "k1:"

    def __init__(self, key: str) -> None:
        self._key = key.encode("utf-8")

    def of(self, *parts: str) -> str:
        """The digest of `parts` (a purpose first: "token", "otp"), which never collide with each other."""
        message = "\x1f".join(parts).encode("utf-8")
        return self.PREFIX + hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def matches(self, stored: str | None, *parts: str) -> bool:
        """Whether `stored` is the digest of `parts`, compared in constant time."""
        return stored is not None and hmac.compare_digest(stored, self.of(*parts))
