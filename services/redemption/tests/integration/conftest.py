"""A redemption process on the session's real PostgreSQL and Kafka, fed through Kafka as in production."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from aiokafka import AIOKafkaProducer

from carnet_contracts import ticket_code
from carnet_contracts.envelope import Envelope, Event
from carnet_contracts.events import AffiliateActivated, CampaignPublished, TicketCredited
from carnet_local.testing import ServiceDatabase


@dataclass
class Credited:
    code: str
    ticket_id: str
    wallet_id: str
    amount_cents: int


class Feed(ServiceDatabase):
    """Publishes other services' events with one producer, and waits until the service applied them."""

    def __init__(self, stack, database_url: str):
        super().__init__(database_url)
        self.stack = stack
        self.key = stack.secrets["CARNET_TICKET_CODE_HASH_KEY"].encode()
        self.campaign_id = f"campaign-{uuid.uuid4().hex[:8]}"
        self.today = datetime.now(UTC).date()
        self.valid_until = self.today + timedelta(days=200)  # a campaign under way, whatever today is

    def another_campaign(self) -> Feed:
        """The same service, tickets of another campaign."""
        return Feed(self.stack, self.database_url)

    async def publish(self, *events: Event) -> None:
        producer = AIOKafkaProducer(bootstrap_servers=self.stack.kafka_bootstrap, enable_idempotence=True)
        await producer.start()
        try:
            for event in events:
                envelope = Envelope.wrap(event, producer="test")
                await producer.send(event.topic.name, envelope.model_dump_json().encode(), key=event.key().encode())
            await producer.flush()
        finally:
            await producer.stop()

    def credited(self, *, amount_cents: int = 1000, affiliate_id: str | None = None,
                 valid_until: date | None = None) -> tuple[Credited, TicketCredited]:
        valid_until = valid_until or self.valid_until
        code = ticket_code.generate()
        ticket = Credited(code, f"ticket-{uuid.uuid4()}", f"wallet-{uuid.uuid4()}", amount_cents)
        event = TicketCredited(
            ticket_id=ticket.ticket_id, wallet_id=ticket.wallet_id, campaign_id=self.campaign_id, position=1,
            code_hash=ticket_code.code_hash(code, self.key), code_suffix=code[-4:], amount_cents=amount_cents,
            affiliate_id=affiliate_id, valid_until=valid_until, credited_at=datetime.now(UTC),
        )
        return ticket, event

    async def tickets(self, count: int, **kwargs) -> list[Credited]:
        made = [self.credited(**kwargs) for _ in range(count)]
        await self.publish(*(event for _, event in made))
        tickets = [ticket for ticket, _ in made]
        await self.until(
            "SELECT count(*) = $1 FROM tickets WHERE ticket_id = ANY($2::text[])",
            len(tickets), [t.ticket_id for t in tickets],
        )
        return tickets

    async def affiliate(self) -> str:
        affiliate_id = f"aff-{uuid.uuid4().hex[:10]}"
        await self.publish(AffiliateActivated(
            affiliate_id=affiliate_id, name="Club", activity="sport", city="Nanterre", postcode="92000",
            activated_at=datetime.now(UTC),
        ))
        await self.until("SELECT active FROM affiliates WHERE affiliate_id = $1", affiliate_id)
        return affiliate_id

    async def campaign(self, grace_minutes: int) -> None:
        await self.publish(CampaignPublished(
            campaign_id=self.campaign_id, label=f"{self.today.year}-{self.today.year + 1}",
            enrolment_opens=self.today - timedelta(days=30), enrolment_closes=self.today + timedelta(days=60),
            pass_valid_until=self.valid_until, reimbursement_deadline=self.valid_until + timedelta(days=30),
            allowance_cents=7000, tickets_per_pass=7,
            ticket_min_cents=500, ticket_max_cents=7000, eligible_postcode_prefixes=["92"],
            eligible_levels=["6e", "5e", "4e", "3e"], redemption_cancel_grace_minutes=grace_minutes,
        ))
        await self.until(
            "SELECT true FROM campaigns WHERE campaign_id = $1 AND redemption_cancel_grace_minutes = $2",
            self.campaign_id, grace_minutes,
        )


async def start_redemption(stack, **env: str):
    database_url = await stack.create_database("redemption")
    process = stack.service("redemption", database_url=database_url, env=env, own_consumer_group=True)
    await asyncio.to_thread(process.start, timeout=120)
    return process, database_url


@pytest.fixture(scope="module")
async def redemption(stack):
    """One redemption process for a module (tests use their own tickets and affiliates)."""
    process, database_url = await start_redemption(stack, CARNET_REDEMPTION_MAX_UNKNOWN_CODES="3")
    yield process, Feed(stack, database_url)
    await asyncio.to_thread(process.stop)


@pytest.fixture
async def fresh_redemption(stack):
    """A redemption process of its own, for a test that kills and restarts it."""
    process, database_url = await start_redemption(stack)
    yield process, Feed(stack, database_url)
    await asyncio.to_thread(process.stop)
