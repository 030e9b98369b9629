"""The fixtures of the notification service's integration tests: a real SMTP server (the local capture,
aiosmtpd, offering SMTPUTF8) writing each e-mail to a folder, the wallet's stand-in, and the service
itself as a process on the session's Kafka and PostgreSQL (one per test module)."""

from __future__ import annotations

import pytest

from carnet_local.processes import free_port
from carnet_local.smtp import start_capture

from .support import Mailbox, WalletStandIn


@pytest.fixture(scope="module")
def smtp_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def mailbox(tmp_path_factory, smtp_port):
    directory = tmp_path_factory.mktemp("mail")
    box = Mailbox(directory)
    box.controller = start_capture(directory, smtp_port)
    yield box
    if box.controller is not None:
        box.controller.stop()


@pytest.fixture(scope="module")
def wallet(stack):
    stand_in = WalletStandIn(stack.keys_dir)
    yield stand_in
    stand_in.stop()


@pytest.fixture(scope="module")
def notification(stack, mailbox, smtp_port, wallet):
    process = stack.service(
        "notification",
        smtp_port=smtp_port,
        env={
            "CARNET_WALLET_URL": wallet.url,
            "CARNET_NOTIFICATION_RETRY_FIRST_DELAY_SECONDS": "0.5",
            "CARNET_NOTIFICATION_RETRY_MAX_DELAY_SECONDS": "2",
            "CARNET_NOTIFICATION_WORKER_POLL_SECONDS": "0.2",
            "CARNET_NOTIFICATION_ACTIVATION_URL": "https://pass.example/affilies/activation",
        },
    )
    process.start(timeout=90)
    yield process
    process.stop()
