"""A wallet process on the session's real PostgreSQL and Kafka, fed through Kafka as in production."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta

import asyncpg
import pytest

from carnet_contracts.events import Guardian, PassGranted, Student
from carnet_contracts.topics import WALLET_WALLETS
from carnet_local.testing import poll_database


class Feed:
    """Publishes other services' events and looks into the wallet's own database."""

    def __init__(self, stack, database_url: str):
        self.stack = stack
        self.database_url = database_url
        self.campaign_id = f"campaign-{uuid.uuid4().hex[:8]}"
        today = datetime.now(UTC).date()
        self.valid_until = today + timedelta(days=200)  # a campaign under way, whatever today is
        self.label = f"Pass Hauts-de-Seine {today.year}-{today.year + 1}"
        self.birth_date = date(today.year - 12, 5, 4)

    def pass_granted(self, *, tickets_per_pass: int = 7, allowance_cents: int = 7000,
                     school_id: str = "0920001A") -> PassGranted:
        return PassGranted(
            application_id=f"app-{uuid.uuid4()}", campaign_id=self.campaign_id,
            campaign_label=self.label, school_id=school_id,
            family_sub=f"family-{uuid.uuid4().hex[:10]}",
            student=Student(last_name="Martin", first_name="Léa", birth_date=self.birth_date, level="5e"),
            guardian=Guardian(last_name="Martin", first_name="Anne", email="anne.martin@example.org"),
            allowance_cents=allowance_cents, tickets_per_pass=tickets_per_pass, ticket_min_cents=500,
            ticket_max_cents=7000, pass_valid_until=self.valid_until, validated_at=datetime.now(UTC),
        )

    async def wallet_of(self, granted: PassGranted, *, timeout: float = 60.0) -> str:
        """Publish the PassGranted and wait for its WalletCreated: the wallet id."""
        await self.stack.publish(granted)
        created = await self.stack.wait_for_event(
            WALLET_WALLETS.name,
            lambda m: m["event_type"] == "WalletCreated" and m["data"]["application_id"] == granted.application_id,
            timeout=timeout,
        )
        return created["data"]["wallet_id"]

    async def until(self, query: str, *args, timeout: float = 60.0):
        """Poll the service's own database until `query` gives a truthy value."""
        return await poll_database(self.database_url, query, *args, timeout=timeout)

    async def fetchval(self, query: str, *args):
        conn = await asyncpg.connect(self.database_url)
        try:
            return await conn.fetchval(query, *args)
        finally:
            await conn.close()


@pytest.fixture(scope="module")
async def wallet(stack):
    """One wallet process for a module; tests use their own applications and campaign."""
    database_url = await stack.create_database("wallet")
    process = stack.service("wallet", database_url=database_url, own_consumer_group=True)
    await asyncio.to_thread(process.start, timeout=120)
    yield process, Feed(stack, database_url)
    await asyncio.to_thread(process.stop)


@pytest.fixture
def feed(wallet, stack):
    """A fresh campaign id per test, on the module's process."""
    process, module_feed = wallet
    return Feed(stack, module_feed.database_url)
