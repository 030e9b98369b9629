from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from carnet_runtime import SecretKey, ServiceSettings, shared_setting


class WalletSettings(ServiceSettings):
    model_config = SettingsConfigDict(extra="ignore", env_prefix="CARNET_WALLET_")

    service_name: ClassVar[str] = "wallet"
    default_http_port: ClassVar[int] = 8002

    # The HMAC key of ticket codes, shared with the redemption service only. No default: the service
    # does not start without it (the local stack generates one).
    ticket_code_hash_key: SecretKey = Field(validation_alias=shared_setting("TICKET_CODE_HASH_KEY"))
    # The ticket amounts the département follows in its figures (10, 30 and 70 EUR in 2013-2014).
    watched_amounts_cents: list[int] = [1000, 3000, 7000]

    @property
    def code_hash_key(self) -> bytes:
        return self.ticket_code_hash_key.get_secret_value().encode()
