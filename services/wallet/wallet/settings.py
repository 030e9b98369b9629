from __future__ import annotations

from typing import ClassVar

from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict

from carnet_runtime import ServiceSettings


class WalletSettings(ServiceSettings):
    model_config = SettingsConfigDict(extra="ignore", env_prefix="CARNET_WALLET_")

    service_name: ClassVar[str] = "wallet"
    default_http_port: ClassVar[int] = 8002

    # The HMAC key of ticket codes, shared with the redemption service only. The default serves local runs.
    ticket_code_hash_key: str = Field(
        "carnet-local-ticket-code-hash-key", validation_alias=AliasChoices("CARNET_TICKET_CODE_HASH_KEY")
    )
    # The ticket amounts the département follows in its figures (10, 30 and 70 EUR in 2013-2014).
    watched_amounts_cents: list[int] = [1000, 3000, 7000]

    @property
    def code_hash_key(self) -> bytes:
        return self.ticket_code_hash_key.encode()
