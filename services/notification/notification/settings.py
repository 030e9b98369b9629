"""The notification service's settings (CARNET_NOTIFICATION_<NAME> unless shared), with local defaults."""

from __future__ import annotations

from datetime import timedelta
from typing import ClassVar

from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict

from carnet_runtime import SecretKey, ServiceSettings, shared_setting

from .domain import RetentionPolicy, RetryPolicy
from .rendering import Branding


def _shared_or_own(name: str) -> AliasChoices:
    """Read as CARNET_<NAME> (shared with the local stack), or CARNET_NOTIFICATION_<NAME>."""
    return AliasChoices(f"CARNET_{name}", f"CARNET_NOTIFICATION_{name}")


class NotificationSettings(ServiceSettings):
    model_config = SettingsConfigDict(extra="ignore", env_prefix="CARNET_NOTIFICATION_")

    service_name: ClassVar[str] = "notification"
    default_http_port: ClassVar[int] = 8005

    # The SMTP server every message is handed to, and how to talk to it.
    smtp_host: str = Field("127.0.0.1", validation_alias=_shared_or_own("SMTP_HOST"))
    smtp_port: int = Field(2525, validation_alias=_shared_or_own("SMTP_PORT"))
    smtp_timeout_seconds: float = 15.0  # one SMTP conversation, at most
    smtp_username: str | None = None  # AUTH when given
    smtp_password: str | None = None
    smtp_starttls: bool = False

    # Who the messages come from, and the département's names printed in every message.
    mail_from: str = "Pass Hauts-de-Seine <ne-pas-repondre@pass.hauts-de-seine.net>"
    sender_domain: str = "pass.hauts-de-seine.net"  # the right-hand side of each Message-ID
    pass_name: str = "Pass Hauts-de-Seine"
    organisation: str = "Département des Hauts-de-Seine"
    portal_url: str = "https://pass.hauts-de-seine.net"
    helpline: str = "0 800 076 092"  # the Numéro Vert
    helpline_hours: str = "du lundi au vendredi, de 9h00 à 19h00"
    # The pages an affiliate's one-time links open; each link ends ?token=<token>.
    activation_url: str = "https://pass.hauts-de-seine.net/affilies/activation"
    password_reset_url: str = "https://pass.hauts-de-seine.net/affilies/mot-de-passe"

    # The key shared with the affiliation service that seals activation tokens, reset tokens and
    # one-time codes. No default: the service does not start without it (the local stack generates one).
    seal_secret: SecretKey = Field(validation_alias=shared_setting("SEAL_KEY"))

    # The wallet service, which renders the ticket sheets attached to `tickets_sheet` messages.
    wallet_url: str = Field("http://127.0.0.1:8002", validation_alias=_shared_or_own("WALLET_URL"))
    wallet_timeout_seconds: float = 20.0

    # Retries of a message that could not be delivered yet: the first delay, times the factor after
    # each attempt, at most the maximum; a trouble that lasts longer than give_up_after fails it.
    retry_first_delay_seconds: float = 10.0
    retry_factor: float = 2.0
    retry_max_delay_seconds: float = 900.0
    retry_give_up_after_hours: float = 72.0

    worker_poll_seconds: float = 0.5  # how often the worker looks for due messages when it found none
    worker_batch_size: int = 20  # messages claimed at once
    worker_concurrency: int = 4  # SMTP conversations at once per process
    sending_lease_seconds: float = 300.0  # a message left `sending` this long by a dead worker is taken again

    retention_days: int = 60  # personal data is forgotten this long after its campaign's last day
    retention_without_campaign_days: int = 400  # ... or after its creation, outside any campaign
    retention_sweep_seconds: float = 3600.0  # how often the retention rule is applied
    messages_gauge_seconds: float = 5.0  # how often the gauge of messages by state is refreshed

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            first_delay=timedelta(seconds=self.retry_first_delay_seconds),
            factor=self.retry_factor,
            max_delay=timedelta(seconds=self.retry_max_delay_seconds),
            give_up_after=timedelta(hours=self.retry_give_up_after_hours),
        )

    def retention_policy(self) -> RetentionPolicy:
        return RetentionPolicy(self.retention_days, self.retention_without_campaign_days)

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
