"""The affiliation service's settings (CARNET_AFFILIATION_<NAME>), with local defaults."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from carnet_runtime import SecretKey, ServiceSettings, shared_setting

from .domain.account import LoginPolicy, PasswordHashing
from .domain.convention import ConventionDocument, OtpPolicy
from .domain.sepa import Debtor

CONVENTIONS = Path(__file__).parent / "conventions"


class AffiliationSettings(ServiceSettings):
    model_config = SettingsConfigDict(extra="ignore", env_prefix="CARNET_AFFILIATION_")

    service_name: ClassVar[str] = "affiliation"
    default_http_port: ClassVar[int] = 8004

    # the key shared with the notification service, which unseals tokens and codes to e-mail them
    # No default: the service does not start without it (the local stack generates one).
    seal_secret: SecretKey = Field(validation_alias=shared_setting("SEAL_KEY"))
    # the private key affiliate access tokens are signed with; the other services trust its .pub.pem
    signing_key: Path | None = None
    access_token_ttl_seconds: int = 3600

    activation_ttl_hours: float = 24 * 7
    password_reset_ttl_minutes: float = 60
    otp_ttl_minutes: float = 10
    otp_max_attempts: int = 5
    login_lock_after_failures: int = 5
    login_lock_minutes: float = 15
    login_slow_after_failures: int = 2
    login_max_delay_seconds: float = 2.0

    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65536
    argon2_parallelism: int = 4

    # the convention in force: conventions/<version>.md
    convention_version: str = "2026-1"

    debtor_name: str = "Département des Hauts-de-Seine"
    debtor_iban: str = "FR7630001007941234567890185"
    debtor_bic: str = "BDFEFRPPCCT"
    # transfers are asked for this many days after the batch is created
    transfer_delay_days: int = 2

    reminder_poll_seconds: float = 60.0

    @property
    def affiliate_key_path(self) -> Path:
        return self.signing_key or (self.keys_dir / "affiliation.pem")

    def activation_ttl(self) -> timedelta:
        return timedelta(hours=self.activation_ttl_hours)

    def password_reset_ttl(self) -> timedelta:
        return timedelta(minutes=self.password_reset_ttl_minutes)

    def otp_policy(self) -> OtpPolicy:
        return OtpPolicy(ttl=timedelta(minutes=self.otp_ttl_minutes), max_attempts=self.otp_max_attempts)

    def login_policy(self) -> LoginPolicy:
        return LoginPolicy(
            lock_after_failures=self.login_lock_after_failures,
            lock_duration=timedelta(minutes=self.login_lock_minutes),
            slow_after_failures=self.login_slow_after_failures,
            max_delay_seconds=self.login_max_delay_seconds,
        )

    def password_hashing(self) -> PasswordHashing:
        return PasswordHashing(self.argon2_time_cost, self.argon2_memory_kib, self.argon2_parallelism)

    def convention(self) -> ConventionDocument:
        path = CONVENTIONS / f"{self.convention_version}.md"
        return ConventionDocument(version=self.convention_version, text=path.read_text(encoding="utf-8"))

    def debtor(self) -> Debtor:
        return Debtor(self.debtor_name, self.debtor_iban, self.debtor_bic)

    @property
    def seal_key(self) -> str:
        return self.seal_secret.get_secret_value()
