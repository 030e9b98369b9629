"""The affiliation service's settings (CARNET_AFFILIATION_<NAME>), with local defaults."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from carnet_runtime import SecretKey, ServiceSettings, shared_setting

from .domain.account import PasswordHashing
from .domain.convention import ConventionDocument
from .domain.keyed_hash import KeyedHash
from .domain.login import LoginPolicy
from .domain.one_time_code import OtpPolicy
from .domain.sepa import Debtor

CONVENTIONS = Path(__file__).parent / "conventions"


class AffiliationSettings(ServiceSettings):
    model_config = SettingsConfigDict(extra="ignore", env_prefix="CARNET_AFFILIATION_")

    service_name: ClassVar[str] = "affiliation"
    default_http_port: ClassVar[int] = 8004

    # The key shared with the notification service, which unseals links and codes to e-mail them
    # (CARNET_SEAL_KEY). No default: the service does not start without it (the local stack generates one).
    seal_secret: SecretKey = Field(validation_alias=shared_setting("SEAL_KEY"))
    # This service's own key for the keyed hashes (HMAC-SHA256) of activation and reset links and of
    # convention codes (CARNET_AFFILIATION_SECRET_KEY). No default, like the seal key. Changing it
    # voids the links and codes in flight.
    affiliation_secret_key: SecretKey = Field(validation_alias=shared_setting("AFFILIATION_SECRET_KEY"))
    # The private key affiliate access tokens are signed with (`affiliation.pem`, the other services
    # trust its .pub.pem); by default in the keys directory, made there on first start if missing.
    signing_key: Path | None = None
    # How long an affiliate's access token is valid.
    access_token_ttl_seconds: int = 3600

    # How long an activation link, a password-reset link and an e-mailed code (convention, IBAN change) are valid.
    activation_ttl_hours: float = 24 * 7
    password_reset_ttl_minutes: float = 60
    otp_ttl_minutes: float = 10
    # Codes e-mailed to an organisation (convention, IBAN change; each counted on its own): within
    # `otp_window_minutes` from the first code, at most `otp_max_issues` codes are sent and
    # `otp_max_attempts` wrong codes tried (a new code does not give more tries).
    otp_max_attempts: int = 5
    otp_max_issues: int = 5
    otp_window_minutes: float = 60

    # Failed logins (affiliation/domain/login.py), counted over the last `login_window_minutes`:
    login_window_minutes: float = 15
    # after this many failures on an account (from anyone) or by a client, answers are held back,
    # from `login_first_delay_seconds`, doubling, up to `login_max_delay_seconds`;
    login_slow_after_failures: int = 2
    login_first_delay_seconds: float = 0.25
    login_max_delay_seconds: float = 2.0
    # a client that failed this many times on one account is refused on it (429) for a while;
    login_client_account_limit: int = 20
    # a client that failed on this many distinct accounts is refused on all (429), for
    # `login_spray_block_seconds`, doubling with each further account, up to `login_spray_block_max_seconds`.
    login_spray_accounts_limit: int = 5
    login_spray_block_seconds: float = 60
    login_spray_block_max_seconds: float = 900

    # argon2id's cost for passwords (tests lower the memory).
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65536
    argon2_parallelism: int = 4

    # The convention in force: conventions/<version>.md
    convention_version: str = "2026-1"

    # The département's account the reimbursement transfers leave from.
    debtor_name: str = "Département des Hauts-de-Seine"
    debtor_iban: str = "FR7630001007941234567890185"
    debtor_bic: str = "BDFEFRPPCCT"
    # Transfers are asked for this many days after the batch is created (unless the batch says when).
    transfer_delay_days: int = 2
    # POST /v1/reimbursement-batches answers once its ReimbursementBatchCreated is on Kafka, waiting at most
    # this long (past it, still 201: the batch is committed and the outbox relay will publish it). The
    # redemption service refuses an admin's cancel of a batched redemption from then on.
    batch_publish_wait_seconds: float = 5.0

    # How often the service looks for campaigns opening today, whose organisations it reminds of their login.
    reminder_poll_seconds: float = 60.0
    # How often failed logins older than a day are deleted (they hold client addresses).
    login_failures_purge_seconds: float = 3600.0

    @property
    def affiliate_key_path(self) -> Path:
        return self.signing_key or (self.keys_dir / "affiliation.pem")

    @property
    def seal_key(self) -> str:
        return self.seal_secret.get_secret_value()

    def keyed_hash(self) -> KeyedHash:
        return KeyedHash(self.affiliation_secret_key.get_secret_value())

    def activation_ttl(self) -> timedelta:
        return timedelta(hours=self.activation_ttl_hours)

    def password_reset_ttl(self) -> timedelta:
        return timedelta(minutes=self.password_reset_ttl_minutes)

    def otp_policy(self) -> OtpPolicy:
        return OtpPolicy(
            keyed=self.keyed_hash(),
            ttl=timedelta(minutes=self.otp_ttl_minutes),
            max_attempts=self.otp_max_attempts,
            max_issues=self.otp_max_issues,
            issue_window=timedelta(minutes=self.otp_window_minutes),
        )

    def login_policy(self) -> LoginPolicy:
        return LoginPolicy(
            window=timedelta(minutes=self.login_window_minutes),
            slow_after_failures=self.login_slow_after_failures,
            first_delay_seconds=self.login_first_delay_seconds,
            max_delay_seconds=self.login_max_delay_seconds,
            client_account_limit=self.login_client_account_limit,
            spray_accounts_limit=self.login_spray_accounts_limit,
            spray_block=timedelta(seconds=self.login_spray_block_seconds),
            spray_block_max=timedelta(seconds=self.login_spray_block_max_seconds),
        )

    def password_hashing(self) -> PasswordHashing:
        return PasswordHashing(self.argon2_time_cost, self.argon2_memory_kib, self.argon2_parallelism)

    def convention(self) -> ConventionDocument:
        path = CONVENTIONS / f"{self.convention_version}.md"
        return ConventionDocument(version=self.convention_version, text=path.read_text(encoding="utf-8"))

    def debtor(self) -> Debtor:
        return Debtor(self.debtor_name, self.debtor_iban, self.debtor_bic)
