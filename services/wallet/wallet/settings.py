from __future__ import annotations

import json
import re
from typing import ClassVar

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from carnet_runtime import SecretKey, ServiceSettings, shared_setting

from .codes import LEGACY_CLEARTEXT

_KEY_ID = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")
_KEY = re.compile(r"^[0-9a-fA-F]{64}$")


class WalletSettings(ServiceSettings):
    model_config = SettingsConfigDict(extra="ignore", env_prefix="CARNET_WALLET_")

    service_name: ClassVar[str] = "wallet"
    default_http_port: ClassVar[int] = 8002

    # The HMAC key of ticket codes, shared with the redemption service only. No default: the service
    # does not start without it (the local stack generates one).
    ticket_code_hash_key: SecretKey = Field(validation_alias=shared_setting("TICKET_CODE_HASH_KEY"))
    # CARNET_WALLET_CODE_KEYS: the AES-256-GCM keys ticket codes are encrypted with at rest, as JSON
    # {"key id": "64 hex characters", ...}. The first key encrypts; every key decrypts. To rotate, put
    # a new key first, wait for the re-encryption below to move every code, then remove the old key.
    # No default: the service does not start without it (the local stack generates one).
    code_keys: SecretStr = Field(validation_alias=AliasChoices("CARNET_WALLET_CODE_KEYS"))
    # How often codes sealed under another key than the first (or credited before encryption) are
    # re-encrypted under the first one, in batches of `code_reencrypt_batch`.
    code_reencrypt_interval_seconds: float = 600.0
    code_reencrypt_batch: int = 500
    # The ticket amounts the département follows in its figures (10, 30 and 70 EUR in 2013-2014).
    watched_amounts_cents: list[int] = [1000, 3000, 7000]
    # The families' reminder: this many days before the pass's last valid day, once, while money is
    # still on it (credited and unspent, or not yet credited).
    expiry_reminder_days: int = Field(14, ge=1)
    # A ticket e-mail's snapshot of the sheet (codes encrypted) is kept this long, for the
    # notification service to fetch and retry; then deleted (and at the campaign's purge anyway).
    snapshot_retention_days: int = Field(30, ge=1)
    # How often the reminders and the snapshots' retention are looked after.
    housekeeping_interval_seconds: float = 300.0

    @field_validator("code_keys")
    @classmethod
    def _code_keys_are_json_hex_keys(cls, value: SecretStr) -> SecretStr:
        try:
            keys = json.loads(value.get_secret_value())
        except ValueError:
            raise ValueError('must be JSON: {"key id": "64 hex characters"}') from None
        if not isinstance(keys, dict) or not keys:
            raise ValueError('must be a non-empty JSON object {"key id": "64 hex characters"}')
        for key_id, key in keys.items():
            if not _KEY_ID.match(key_id) or key_id == LEGACY_CLEARTEXT:
                raise ValueError("key ids are 1 to 64 letters, digits or ._@- (not 'cleartext')")
            if not isinstance(key, str) or not _KEY.match(key):
                raise ValueError("each key is 64 hex characters (32 bytes, e.g. `openssl rand -hex 32`)")
        return value

    @property
    def code_hash_key(self) -> bytes:
        return self.ticket_code_hash_key.get_secret_value().encode()

    @property
    def code_key_bytes(self) -> dict[str, bytes]:
        """The code keys in their order (the first encrypts)."""
        return {k: bytes.fromhex(v) for k, v in json.loads(self.code_keys.get_secret_value()).items()}
