"""Secrets that must reach a person's mailbox (activation token, one-time code, reset token)
travel on Kafka sealed, never in clear: encrypted and authenticated (Fernet) with a key
that only the affiliation and notification services hold (setting CARNET_SEAL_KEY).
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken

__all__ = ["InvalidToken", "seal", "unseal"]


def _fernet(key: str) -> Fernet:
    # Any configured secret works: it is stretched to the 32 bytes Fernet wants.
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(key.encode()).digest()))


def seal(secret: str, key: str) -> str:
    return _fernet(key).encrypt(secret.encode()).decode("ascii")


def unseal(sealed: str, key: str) -> str:
    return _fernet(key).decrypt(sealed.encode("ascii")).decode()
