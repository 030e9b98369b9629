from __future__ import annotations

from datetime import timedelta
from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from carnet_runtime import SecretKey, ServiceSettings, shared_setting

from .domain import GuessingLimit


class RedemptionSettings(ServiceSettings):
    model_config = SettingsConfigDict(extra="ignore", env_prefix="CARNET_REDEMPTION_")

    service_name: ClassVar[str] = "redemption"
    default_http_port: ClassVar[int] = 8003

    # The HMAC key of ticket codes, shared with the wallet service only. No default: the service
    # does not start without it (the local stack generates one).
    ticket_code_hash_key: SecretKey = Field(validation_alias=shared_setting("TICKET_CODE_HASH_KEY"))
    max_unknown_codes: int = 10
    unknown_codes_window_seconds: float = 600.0
    idempotency_key_retention_days: int = 7
    # The share of the scanner's requests whose trace is kept whole (the runtime's default is all of
    # them); a request that fails or lasts CARNET_REDEMPTION_TRACE_SLOW_SECONDS is traced whatever this says.
    trace_sample_ratio: float = Field(0.1, ge=0.0, le=1.0)
    # Connections of the scanner's own pool, per process (beside the runtime's pool of
    # CARNET_REDEMPTION_DATABASE_POOL_MAX for the events, cancels and the outbox relay).
    scanner_pool_size: int = 10
    # The scanner's statements do not NOTIFY the outbox relay (store/scanner.py: it would make concurrent
    # scans commit one at a time), so the relay looks for new events this often (the runtime's default is
    # 0.5 s, woken by NOTIFY): the most a TicketRedeemed waits in the outbox when the relay is idle.
    outbox_idle_poll_seconds: float = Field(0.025, gt=0)
    # The admin's cancel first waits, at most this long, until this service has applied every reimbursement
    # batch already on Kafka (its consumer group's committed offsets on the affiliation's reimbursements
    # topic); past it, 503 SERVICE_UNAVAILABLE with Retry-After, nothing changed.
    admin_cancel_batch_wait_seconds: float = Field(5.0, gt=0)

    @property
    def code_hash_key(self) -> bytes:
        return self.ticket_code_hash_key.get_secret_value().encode()

    @property
    def guessing_limit(self) -> GuessingLimit:
        return GuessingLimit(self.max_unknown_codes, timedelta(seconds=self.unknown_codes_window_seconds))
