"""Where the services answer (and where the stack keeps its signing keys and captured e-mails), and the
one error the commands that talk to them stop with: shared by the season driver (`carnet demo`),
`carnet report` and `carnet privacy`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


class ToolError(RuntimeError):
    """The command cannot go on; the message is one line saying what did not happen."""


@dataclass(frozen=True)
class Endpoints:
    """Where the services answer, which keys sign the gateways' tokens and where e-mails land."""

    enrolment: str
    wallet: str
    redemption: str
    affiliation: str
    notification: str
    keys_dir: Path
    mail_dir: Path
    kafka_bootstrap: str

    @classmethod
    def local(cls) -> Endpoints:
        from .config import SERVICE_PORTS, StackConfig

        config = StackConfig.from_env()
        urls = {name: f"http://127.0.0.1:{port}" for name, port in SERVICE_PORTS.items()}
        return cls(**urls, keys_dir=config.keys_dir, mail_dir=config.mail_dir,
                   kafka_bootstrap=f"127.0.0.1:{config.kafka_port}")
