"""The notification service's settings (CARNET_NOTIFICATION_<NAME>), with local defaults."""

from __future__ import annotations

from datetime import timedelta
from typing import ClassVar

from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict

from carnet_runtime import SecretKey, ServiceSettings, shared_setting

from .domain import RetryPolicy
from .rendering import Branding


class NotificationSettings(ServiceSettings):
    model_config = SettingsConfigDict(extra="ignore", env_prefix="CARNET_NOTIFICATION_")

    service_name: ClassVar[str] = "notification"
    default_http_port: ClassVar[int] = 8005

    smtp_host: str = Field("127.0.0.1", validation_alias=AliasChoices("CARNET_SMTP_HOST", "CARNET_NOTIFICATION_SMTP_HOST"))
    smtp_port: int = Field(2525, validation_alias=AliasChoices("CARNET_SMTP_PORT", "CARNET_NOTIFICATION_SMTP_PORT"))
    smtp_timeout_seconds: float = 15.0
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False

    mail_from: str = "Pass Hauts-de-Seine <ne-pas-repondre@pass.hauts-de-seine.net>"
    sender_domain: str = "pass.hauts-de-seine.net"
    pass_name: str = "Pass Hauts-de-Seine"
    organisation: str = "Département des Hauts-de-Seine"
    portal_url: str = "https://pass.hauts-de-seine.net"
    helpline: str = "0 800 076 092"
    helpline_hours: str = "du lundi au vendredi, de 9h00 à 19h00"
    activation_url: str = "https://pass.hauts-de-seine.net/affilies/activation"
    password_reset_url: str = "https://pass.hauts-de-seine.net/affilies/mot-de-passe"

    # the key shared with the affiliation service to unseal tokens and one-time codes
    # No default: the service does not start without it (the local stack generates one).
    seal_secret: SecretKey = Field(validation_alias=shared_setting("SEAL_KEY"))

    wallet_url: str = Field("http://127.0.0.1:8002", validation_alias=AliasChoices("CARNET_WALLET_URL", "CARNET_NOTIFICATION_WALLET_URL"))
    wallet_timeout_seconds: float = 20.0

    retry_first_delay_seconds: float = 10.0
    retry_factor: float = 2.0
    retry_max_delay_seconds: float = 900.0
    retry_give_up_after_hours: float = 72.0

    worker_poll_seconds: float = 0.5
    worker_batch_size: int = 20
    worker_concurrency: int = 4
    sending_lease_seconds: float = 300.0

    retention_days: int = 60
    retention_without_campaign_days: int = 400
    retention_sweep_seconds: float = 3600.0

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            first_delay=timedelta(seconds=self.retry_first_delay_seconds),
            factor=self.retry_factor,
            max_delay=timedelta(seconds=self.retry_max_delay_seconds),
            give_up_after=timedelta(hours=self.retry_give_up_after_hours),
        )

    def branding(self) -> Branding:
        return Branding(
            pass_name=self.pass_name,
            organisation=self.organisation,
            portal_url=self.portal_url,
            helpline=self.helpline,
            helpline_hours=self.helpline_hours,
        )

    @property
    def seal_key(self) -> str:
        return self.seal_secret.get_secret_value()
