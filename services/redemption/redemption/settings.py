from __future__ import annotations

from datetime import timedelta
from typing import ClassVar

from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict

from carnet_runtime import ServiceSettings

from .domain import GuessingLimit


class RedemptionSettings(ServiceSettings):
    model_config = SettingsConfigDict(extra="ignore", env_prefix="CARNET_REDEMPTION_")

    service_name: ClassVar[str] = "redemption"
    default_http_port: ClassVar[int] = 8003

    # The HMAC key of ticket codes, shared with the wallet only. The default serves local runs.
    ticket_code_hash_key: str = Field(
        "carnet-local-ticket-code-hash-key", validation_alias=AliasChoices("CARNET_TICKET_CODE_HASH_KEY")
    )
    max_unknown_codes: int = 10
    unknown_codes_window_seconds: float = 600.0
    idempotency_key_retention_days: int = 7

    @property
    def code_hash_key(self) -> bytes:
        return self.ticket_code_hash_key.encode()

    @property
    def guessing_limit(self) -> GuessingLimit:
        return GuessingLimit(self.max_unknown_codes, timedelta(seconds=self.unknown_codes_window_seconds))
