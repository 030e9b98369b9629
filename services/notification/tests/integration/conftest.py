"""The fixtures of the notification service's integration tests: a real SMTP server (the local capture,
aiosmtpd, offering SMTPUTF8) writing each e-mail to a folder, the wallet's stand-in, the service itself
as a process on the session's Kafka and PostgreSQL, and a campaign dated from today.

One notification process per test module, with its own database and its own consumer group (it sees
only what is published from its start: no earlier module's events reach it). Each test has its own SMTP
capture (a new server and folder on the process's SMTP port) and its own campaign: any test runs alone,
in any order, in any year."""

from __future__ import annotations

import uuid

import pytest

from carnet_contracts import events as ev
from carnet_local.processes import free_port
from carnet_local.smtp import start_capture

from .support import Campaign, Mailbox, WalletStandIn


@pytest.fixture(scope="module")
def smtp_port() -> int:
    return free_port()


@pytest.fixture
def mailbox(tmp_path, smtp_port):
    """This test's capture: a new server and folder on the module's SMTP port (what the process sent
    before the test, or sends to earlier tests' people, goes to a folder no other test reads)."""
    directory = tmp_path / "mail"
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
def notification(stack, smtp_port, wallet):
    process = stack.service(
        "notification",
        smtp_port=smtp_port,
        own_consumer_group=True,
        env={
            "CARNET_WALLET_URL": wallet.url,
            "CARNET_NOTIFICATION_RETRY_FIRST_DELAY_SECONDS": "0.5",
            "CARNET_NOTIFICATION_RETRY_MAX_DELAY_SECONDS": "2",
            "CARNET_NOTIFICATION_WORKER_POLL_SECONDS": "0.2",
            "CARNET_NOTIFICATION_ACTIVATION_URL": "https://pass.example/affilies/activation",
        },
    )
    process.start(timeout=120)
    yield process
    process.stop()


@pytest.fixture
async def campaign(stack, notification) -> Campaign:
    """This test's campaign, under way today: its people are kept until long after the test."""
    published = Campaign.from_today(f"c-{uuid.uuid4().hex[:8]}")
    await stack.publish(published.published())
    # known before the test's events arrive (other topics, no order between them): its people are
    # kept until the campaign's end plus the retention, as for a real campaign
    await stack.caught_up(notification.consumer_group, [ev.CampaignPublished.topic.name])
    return published
