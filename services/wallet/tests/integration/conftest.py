"""A wallet process on the session's real PostgreSQL and Kafka, fed through Kafka as in production."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta

import asyncpg
import pypdfium2
import pytest
import zxingcpp

from carnet_contracts import ticket_code
from carnet_contracts.events import GuardianContact, PassGranted, Pupil
from carnet_contracts.topics import WALLET_WALLETS
from carnet_local.testing import ServiceDatabase

# The periodic work (reminders, snapshots' retention, re-encryption) every second, for tests.
FAST_PERIODIC = {"CARNET_WALLET_HOUSEKEEPING_INTERVAL_SECONDS": "1",
                 "CARNET_WALLET_CODE_REENCRYPT_INTERVAL_SECONDS": "1"}


class Feed(ServiceDatabase):
    """Publishes other services' events and looks into the wallet's own database."""

    def __init__(self, stack, database_url: str):
        super().__init__(database_url)
        self.stack = stack
        self.campaign_id = f"campaign-{uuid.uuid4().hex[:8]}"
        today = datetime.now(UTC).date()
        self.valid_until = today + timedelta(days=200)  # a campaign under way, whatever today is
        self.label = f"Pass Hauts-de-Seine {today.year}-{today.year + 1}"

    def pass_granted(self, *, tickets_per_pass: int = 7, allowance_cents: int = 7000,
                     school_id: str = "0920001A", paper: bool = False, valid_until: date | None = None,
                     first_name: str = "Léa", last_name: str = "Martin",
                     email: str = "anne.martin@example.org") -> PassGranted:
        return PassGranted(
            application_id=f"app-{uuid.uuid4()}", campaign_id=self.campaign_id,
            campaign_label=self.label, school_id=school_id,
            family_sub=None if paper else f"family-{uuid.uuid4().hex[:10]}", channel="paper" if paper else "online",
            student=Pupil(last_name=last_name, first_name=first_name, level="5e"),
            guardian=GuardianContact(last_name=last_name, first_name="Anne", email=email),
            allowance_cents=allowance_cents, tickets_per_pass=tickets_per_pass, ticket_min_cents=500,
            ticket_max_cents=7000, pass_valid_until=valid_until or self.valid_until, validated_at=datetime.now(UTC),
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

    async def dump(self) -> str:
        """Every row of every table of the database, as PostgreSQL writes them (text, json, and bytea in hex)."""
        conn = await asyncpg.connect(self.database_url)
        try:
            tables = await conn.fetch(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' "
                "AND table_type = 'BASE TABLE' ORDER BY table_name")
            lines = []
            for table in tables:
                rows = await conn.fetch(f'SELECT t::text AS row FROM "{table["table_name"]}" t')
                lines += [f"{table['table_name']}: {r['row']}" for r in rows]
            return "\n".join(lines)
        finally:
            await conn.close()


async def credit_tickets(client, wallet_id, headers, amounts) -> tuple[list[str], list[str]]:
    """Credit the wallet's first tickets with `amounts`, through the API: (every ticket id, the codes given)."""
    tickets = (await client.get(f"/v1/wallets/{wallet_id}", headers=headers)).json()["tickets"]
    codes = []
    for ticket, amount in zip(tickets, amounts):
        answer = await client.post(f"/v1/wallets/{wallet_id}/tickets/{ticket['ticket_id']}/credit", headers=headers,
                                   json={"amount_cents": amount})
        assert answer.status_code == 200, answer.text
        codes.append(answer.json()["code"])
    return [t["ticket_id"] for t in tickets], codes


def barcodes(pdf: bytes) -> list[str]:
    """The Code 128 barcodes of a PDF's first page, read as a scanner would at 200 dpi."""
    document = pypdfium2.PdfDocument(pdf)
    try:
        image = document[0].render(scale=200 / 72, grayscale=True).to_pil()
    finally:
        document.close()
    return sorted(b.text for b in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.Code128))


def code_forms(code: str) -> list[str]:
    """How a code could be written down: as it is, in groups, in lower case, as bytes in hex."""
    return [code, ticket_code.format_groups(code), code.lower(), code.encode().hex()]


@pytest.fixture(scope="module")
async def wallet(stack):
    """One wallet process for a module of the wallet's integration tests (tests use their own applications
    and campaign). Stopped with its module: a wallet left running would also turn a later test's
    PassGranted into a WalletCreated of its own, which that test's enrolment would take for its wallet."""
    database_url = await stack.create_database("wallet")
    process = stack.service("wallet", database_url=database_url, env=FAST_PERIODIC, own_consumer_group=True)
    await asyncio.to_thread(process.start, timeout=120)
    yield process, Feed(stack, database_url)
    await asyncio.to_thread(process.stop)


@pytest.fixture
def feed(wallet, stack):
    """A fresh campaign id per test, on the shared process."""
    process, module_feed = wallet
    return Feed(stack, module_feed.database_url)
