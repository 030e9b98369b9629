"""Where the local stack lives and which ports it uses; every value can be overridden by environment."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

SERVICES = ("enrolment", "wallet", "redemption", "affiliation", "notification")
SERVICE_PORTS = {"enrolment": 8001, "wallet": 8002, "redemption": 8003, "affiliation": 8004, "notification": 8005}
REPO = Path(__file__).resolve().parents[3]


def _port(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def _under_home(name: str) -> property:
    return property(lambda self: self.home / name)


@dataclass(frozen=True)
class StackConfig:
    home: Path
    kafka_port: int
    kafka_controller_port: int
    postgres_port: int
    smtp_port: int
    external_database_url: str | None

    @classmethod
    def from_env(cls) -> StackConfig:
        return cls(
            home=Path(os.environ.get("CARNET_HOME", ".carnet")).resolve(),
            kafka_port=_port("CARNET_KAFKA_PORT", 9092),
            kafka_controller_port=_port("CARNET_KAFKA_CONTROLLER_PORT", 9093),
            postgres_port=_port("CARNET_POSTGRES_PORT", 55432),
            smtp_port=_port("CARNET_SMTP_PORT", 2525),
            external_database_url=os.environ.get("CARNET_DATABASE_URL"),
        )

    mail_dir = _under_home("mail")
    keys_dir = _under_home("keys")
    run_dir = _under_home("run")
    log_dir = _under_home("logs")


def _new_secrets() -> dict[str, str]:
    return {
        # wallet + redemption: the keyed hash ticket codes travel as
        "CARNET_TICKET_CODE_HASH_KEY": secrets.token_hex(32),
        # affiliation + notification: seals activation links and one-time codes on their way to e-mail
        "CARNET_SEAL_KEY": secrets.token_hex(32),
        # wallet: ticket codes encrypted at rest ({key id: 32-byte hex key}, the first one encrypts)
        "CARNET_WALLET_CODE_KEYS": json.dumps({f"local-{secrets.token_hex(3)}": secrets.token_hex(32)}),
        # affiliation: keyed hashes of one-time codes
        "CARNET_AFFILIATION_SECRET_KEY": secrets.token_hex(32),
    }


def shared_secrets(home: Path) -> dict[str, str]:
    """The keys the services refuse to start without, generated once per home (a key added to the
    project later is added to an existing home's file)."""
    path = home / "secrets.env"
    values: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            if "=" in line:
                key, value = line.split("=", 1)
                values[key.strip()] = value.strip()
    missing = {k: v for k, v in _new_secrets().items() if k not in values}
    if missing or not path.exists():
        home.mkdir(parents=True, exist_ok=True)
        values.update(missing)
        path.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
        path.chmod(0o600)
    return values


def ensure_keys(keys_dir: Path) -> None:
    """The local signers: the gateways (`carnet token`), the affiliation service (affiliate tokens),
    and each service for its own service tokens (`service.<name>`)."""
    from carnet_runtime.auth import ensure_keypair

    for name in ("gateway", "affiliation", *(f"service.{s}" for s in SERVICES)):
        ensure_keypair(keys_dir, name)


def local_token(keys_dir: Path, role: str, *, sub: str, ttl_seconds: int = 3600,
                audience: tuple[str, ...] = SERVICES, **claims: object) -> str:
    """A token signed by the local key allowed to sign `role` (gateway, affiliation, or the service
    named by `sub` for a service token), for every service unless `audience` says otherwise."""
    from carnet_runtime.auth import TokenSigner

    key = {"affiliate": "affiliation", "service": f"service.{sub}"}.get(role, "gateway")
    return TokenSigner(keys_dir / f"{key}.pem").sign(sub=sub, role=role, audience=audience,
                                                     ttl_seconds=ttl_seconds, **claims)


def service_environment(name: str, *, home: Path, database_url: str, kafka_bootstrap: str, keys_dir: Path,
                        smtp_port: int, http_port: int | None = None, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment a service process gets from the local stack or a test."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARNET_")}
    env.update(shared_secrets(home))
    env.update(
        {
            "CARNET_HOME": str(home),
            "CARNET_DATABASE_URL": database_url,
            "CARNET_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
            "CARNET_JWT_KEYS_DIR": str(keys_dir),
            "CARNET_AFFILIATION_SIGNING_KEY": str(keys_dir / "affiliation.pem"),
            "CARNET_SMTP_HOST": "127.0.0.1",
            "CARNET_SMTP_PORT": str(smtp_port),
            "CARNET_WALLET_URL": f"http://127.0.0.1:{SERVICE_PORTS['wallet']}",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env[f"CARNET_{name.upper()}_HTTP_PORT"] = str(http_port or SERVICE_PORTS.get(name, 0))
    env.update(extra or {})
    return env
