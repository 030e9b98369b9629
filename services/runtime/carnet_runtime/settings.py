"""Configuration from environment variables, with defaults that run on one machine."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, ClassVar
from urllib.parse import urlsplit, urlunsplit

from pydantic import AfterValidator, AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


def _shared(name: str) -> AliasChoices:
    """A setting every service reads under the same name (CARNET_<NAME>)."""
    return AliasChoices(f"CARNET_{name}")


def shared_setting(name: str) -> AliasChoices:
    """For a service's settings: a value read under one name by every service that shares it."""
    return _shared(name)


def _long_enough(value: SecretStr) -> SecretStr:
    if len(value.get_secret_value()) < 32:
        raise ValueError("a key must be at least 32 characters long (e.g. `openssl rand -hex 32`)")
    return value


# A key with no safe default: the service refuses to start without it (the local stack generates one).
SecretKey = Annotated[SecretStr, AfterValidator(_long_enough)]


class ServiceSettings(BaseSettings):
    """What every service needs. A service subclasses it, names itself and adds its own settings,
    read from CARNET_<SERVICE>_<NAME> (e.g. CARNET_WALLET_HTTP_PORT)."""

    model_config = SettingsConfigDict(extra="ignore", env_prefix="CARNET_")

    service_name: ClassVar[str] = "service"
    default_http_port: ClassVar[int] = 8000

    http_host: str = "127.0.0.1"
    http_port: int = 0  # 0: the service's default port
    # Processes serving HTTP (uvicorn workers on the one port), each a whole service; as many as the
    # cores the service may use. 1: the one process.
    http_workers: int = Field(1, ge=1)
    # The service's own database; when absent, `carnet_<service>` on the shared server below.
    database_url: str | None = None
    server_database_url: str = Field(
        "postgresql://postgres@127.0.0.1:55432/postgres", validation_alias=_shared("DATABASE_URL")
    )
    database_pool_min: int = 2
    database_pool_max: int = 10
    kafka_bootstrap_servers: str = Field("127.0.0.1:9092", validation_alias=_shared("KAFKA_BOOTSTRAP_SERVERS"))
    # Kafka authentication (Strimzi KafkaUser with SCRAM-SHA-512 over TLS in production); none locally.
    kafka_sasl_username: str | None = Field(None, validation_alias=_shared("KAFKA_SASL_USERNAME"))
    kafka_sasl_password: str | None = Field(None, validation_alias=_shared("KAFKA_SASL_PASSWORD"))
    kafka_ssl_cafile: Path | None = Field(None, validation_alias=_shared("KAFKA_SSL_CAFILE"))
    home: Path = Field(Path(".carnet"), validation_alias=_shared("HOME"))
    # Directory of `*.pub.pem` public keys whose signatures this service trusts (gateway, affiliation, services).
    jwt_keys_dir: Path | None = Field(None, validation_alias=_shared("JWT_KEYS_DIR"))
    # Which key names may sign which roles, beyond the defaults of carnet_runtime.auth (gateway:
    # family, correspondent, admin; affiliation: affiliate; service.<name>: that service's calls).
    jwt_signer_roles: dict[str, list[str]] | None = Field(None, validation_alias=_shared("JWT_SIGNER_ROLES"))
    # How often the keys directory is read again: a removed key stops being trusted within this time.
    jwt_keys_refresh_seconds: float = Field(15.0, validation_alias=_shared("JWT_KEYS_REFRESH_SECONDS"))
    # The private key this service signs its own service tokens with: `service.<name>.pem`.
    service_signing_key: Path | None = Field(None, validation_alias=_shared("SERVICE_SIGNING_KEY"))
    # The largest request body accepted (bytes); larger is 413 PAYLOAD_TOO_LARGE before it is read.
    # A route that takes files (the roster) has its own, larger limit.
    max_body_bytes: int = Field(262_144, validation_alias=_shared("MAX_BODY_BYTES"))
    # Addresses of the reverse proxies whose X-Forwarded-For is believed (comma-separated IPs or
    # networks). Empty: the client address is the peer's, whatever header the client sends.
    trusted_proxies: str = Field("", validation_alias=_shared("TRUSTED_PROXIES"))
    outbox_batch_size: int = 500
    outbox_idle_poll_seconds: float = 0.5
    # Woken by a commit, the relay waits this long for the commits right behind it, so that under load
    # it reads, publishes and marks a batch instead of one event at a time (its cost is per batch).
    outbox_gather_seconds: float = Field(0.003, ge=0, le=0.1)
    consumer_lag_interval_seconds: float = 15.0
    # How often the runtime looks for a Kafka consumer stopped for good (consumer_watch.py).
    consumer_watch_interval_seconds: float = Field(5.0, gt=0)
    # The most events a consumer applies in one transaction (those already fetched from one topic); 1:
    # each event in its own transaction.
    consumer_batch_max_records: int = 100
    # How long a consumer's poll waits for records when none are fetched, and then sleeps before the next
    # poll: the most an event arriving on a quiet topic waits before it is applied (and 25 polls a second
    # per topic when idle).
    consumer_batch_timeout_ms: int = 20
    # How often the Kafka records of purged campaigns are looked for and deleted.
    kafka_purge_interval_seconds: float = 60.0
    log_level: str = Field("INFO", validation_alias=_shared("LOG_LEVEL"))
    # HTTP requests traced: this share of them (1: all), and whatever ends in error or lasts at least
    # trace_slow_seconds (carnet_runtime/telemetry.py, SampledRequests).
    trace_sample_ratio: float = Field(1.0, ge=0.0, le=1.0)
    trace_slow_seconds: float = 0.25
    # The Kafka consumer group; by default the service's name (CARNET_<SERVICE>_CONSUMER_GROUP overrides,
    # e.g. for two deployments of one service sharing a cluster).
    consumer_group: str | None = None

    @property
    def port(self) -> int:
        return self.http_port or self.default_http_port

    @property
    def dsn(self) -> str:
        if self.database_url:
            return self.database_url
        parts = urlsplit(self.server_database_url)
        return urlunsplit(parts._replace(path=f"/carnet_{self.service_name}"))

    @property
    def keys_dir(self) -> Path:
        return self.jwt_keys_dir or (self.home / "keys")

    @property
    def signing_key_path(self) -> Path:
        return self.service_signing_key or (self.keys_dir / f"service.{self.service_name}.pem")

