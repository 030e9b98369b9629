"""Fixtures for tests that cross Kafka or PostgreSQL: the real ones, started once per test session
and only if a test asks for them (unit tests start nothing)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings

from .smtp import start_capture
from .processes import free_port
from .testing import TestStack, start_stack_with_own_broker, start_test_stack, start_three_broker_stack


# Speed is measured by benchmarks, never asserted by tests: hypothesis gets no per-example deadline
# (a loaded two-core machine made property tests fail on time, not on a rule).
settings.register_profile("carnet", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("carnet")


@pytest.fixture(scope="session")
def stack() -> TestStack:
    """The session's PostgreSQL server and Kafka broker (topics of the contracts created)."""
    test_stack = start_test_stack()
    yield test_stack
    test_stack.stop()


@pytest.fixture(scope="module")
def stack_with_own_broker(stack: TestStack) -> TestStack:
    """The session's PostgreSQL with a Kafka broker of the module's own, for the tests that kill the broker
    (`stack_with_own_broker.kafka.kill()` / `.start()`): the services other tests keep running on the
    session's broker never see it go down, whatever order the tests run in."""
    if stack.kafka is None:
        pytest.skip("the broker is external (CARNET_TEST_KAFKA_BOOTSTRAP): no broker of our own to kill")
    test_stack = start_stack_with_own_broker(stack)
    yield test_stack
    test_stack.stop()


@pytest.fixture(scope="session")
def stack_on_three_brokers(stack: TestStack) -> TestStack:
    """The session's PostgreSQL with a three-broker Kafka cluster (replication 3, min.insync.replicas 2),
    started on first use only: the tests where a broker fails. `stack_on_three_brokers.kafka.node(i)`
    kills and restarts one; the default single-broker `stack` serves every other test."""
    test_stack = start_three_broker_stack(stack)
    yield test_stack
    test_stack.stop()


@pytest.fixture
async def database_url(stack: TestStack) -> str:
    """A fresh database for this test alone."""
    return await stack.create_database()


class MailCapture:
    def __init__(self, directory, port):
        self.directory = directory
        self.port = port

    def messages(self):
        import email
        from email import policy

        return [email.message_from_bytes(p.read_bytes(), policy=policy.default)
                for p in sorted(self.directory.glob("*.eml"))]


@pytest.fixture
def smtp_capture(tmp_path) -> MailCapture:
    """A real SMTP server (aiosmtpd) on a free loopback port writing each e-mail as an .eml file."""
    port = free_port()
    controller = start_capture(tmp_path / "mail", port)
    yield MailCapture(tmp_path / "mail", port)
    controller.stop()
