"""Wallet benchmark: prints figures, never passes or fails.

(1) Wallets created per second from PassGranted events.
    baseline: the consumer's transaction (inbox row, the campaign's published terms, wallet and its 7 tickets,
              WalletCreated in the outbox) straight through asyncpg, one event after the other as one
              partition consumer did before batching (the issue's reference); then the same four
              statements for a batch of events (the runtime's default size), as the service now runs them;
    full path: PassGranted events published on Kafka -> wallet process -> wallets in its database;
    profile: the same again under py-spy (cpu_profile.py): where the wallet process's CPU goes.
(2) Milliseconds per 7-ticket sheet.
    baseline: the same A4 page with its text only (no barcodes, no cut marks), with reportlab;
    sheet: wallet.sheet.render_sheet of 7 tickets;
    full path: GET /v1/wallets/{id}/tickets.pdf from the wallet process (load, check, render, answer).

Usage: uv run python services/wallet/bench/wallet_bench.py [--wallets 1000] [--sheets 200]   (--sheets 0: (1) only)
PostgreSQL and Kafka: the test stack's (started here, or CARNET_TEST_DATABASE_URL / CARNET_TEST_KAFKA_BOOTSTRAP).
Everything shares the machine's cores: figures are for this machine.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import statistics
import time
import uuid
from datetime import UTC, date, datetime

import asyncpg
import httpx
from aiokafka import AIOKafkaProducer
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen.canvas import Canvas

import cpu_profile

from carnet_contracts import ticket_code
from carnet_contracts.envelope import Envelope
from carnet_contracts.events import GuardianContact, PassGranted, Pupil, WalletCreated
from carnet_local.testing import start_test_stack
from carnet_runtime import ServiceSettings, db
from carnet_runtime.outbox import Outbox
from wallet.app import MIGRATIONS
from wallet.codes import CodeVault
from wallet.domain import CampaignTerms, Wallet, format_day, format_euros
from wallet.domain import Student as WalletStudent
from wallet.store.copies import CampaignCopies
from wallet.store.wallets import WalletRepository
from wallet.sheet import MARGIN, PAGE_HEIGHT, SLOT_HEIGHT, Sheet, SheetTicket, fonts, render_sheet

CAMPAIGN = "bench-2098-2099"


def pass_granted() -> PassGranted:
    return PassGranted(
        application_id=f"bench-{uuid.uuid4()}", campaign_id=CAMPAIGN, campaign_label="Pass 2098-2099",
        school_id="0920001A", family_sub=f"family-{uuid.uuid4().hex[:10]}",
        student=Pupil(last_name="Martin", first_name="Léa", level="5e"),
        guardian=GuardianContact(last_name="Martin", first_name="Anne", email="anne.martin@example.org"),
        allowance_cents=7000, tickets_per_pass=7, ticket_min_cents=500, ticket_max_cents=7000,
        pass_valid_until=date(2099, 3, 31), validated_at=datetime.now(UTC),
    )


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (Linux /proc): the service's own cost, whatever else runs."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- (1) wallets per second ----------------------------------------------------------------------


async def baseline_wallets(dsn: str, count: int, *, per_transaction: int = 1) -> float:
    """The consumer's own statements, without Kafka nor the service: wallets per second. Each
    transaction records its events in the inbox, reads their campaigns' published terms, stores the
    wallets with their tickets and writes WalletCreated to the outbox: four statements, for one event
    (per_transaction=1: one event after the other as one partition consumer did) or for a batch."""
    outbox = Outbox("wallet")
    vault = CodeVault({"bench": os.urandom(32)}, os.urandom(32))
    events = [pass_granted() for _ in range(count)]
    pool = await db.create_pool(dsn, min_size=1, max_size=1)  # the service's json codecs, one connection
    try:
        conn = await pool.acquire()
        started = time.perf_counter()
        for first in range(0, count, per_transaction):
            batch = events[first:first + per_transaction]
            async with conn.transaction():
                await conn.execute(
                    "INSERT INTO inbox (consumer, event_id, event_type) SELECT 'bench', unnest($1::uuid[]), $2",
                    [uuid.uuid4() for _ in batch], PassGranted.event_type)
                published = await CampaignCopies(conn).terms_of(e.campaign_id for e in batch)
                wallets = [Wallet.open(
                    application_id=e.application_id, school_id=e.school_id, owner_sub=e.family_sub,
                    guardian_email=e.guardian.email,
                    student=WalletStudent(e.student.last_name, e.student.first_name, e.student.level),
                    terms=CampaignTerms(CAMPAIGN, published[CAMPAIGN].label if published else e.campaign_label,
                                        e.allowance_cents, e.tickets_per_pass, e.ticket_min_cents,
                                        e.ticket_max_cents, e.pass_valid_until),
                ) for e in batch]
                await WalletRepository(conn, vault).add_all(wallets)
                await outbox.add_all(conn, [(WalletCreated(
                    wallet_id=str(w.wallet_id), application_id=w.application_id, campaign_id=CAMPAIGN,
                    family_sub=w.owner_sub, ticket_count=7, allowance_cents=7000, valid_until=w.terms.pass_valid_until,
                    student_first_name="Léa", guardian_email=w.guardian_email, created_at=datetime.now(UTC)), None)
                    for w in wallets])
        rate = count / (time.perf_counter() - started)
        await pool.release(conn)
        return rate
    finally:
        await pool.close()


async def full_path_wallets(bootstrap: str, dsn: str, count: int) -> tuple[float, float]:
    """PassGranted on Kafka until the wallets are in the service's database: (wallets/s, publish seconds)."""
    conn = await asyncpg.connect(dsn)
    before = await conn.fetchval("SELECT count(*) FROM wallets WHERE campaign_id = $1", CAMPAIGN)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, linger_ms=5)
    await producer.start()
    try:
        events = [pass_granted() for _ in range(count)]
        started = time.perf_counter()
        for event in events:
            await producer.send(event.topic.name, Envelope.wrap(event, producer="bench").model_dump_json().encode(),
                                key=event.key().encode())
        await producer.flush()
        published = time.perf_counter() - started
        while await conn.fetchval("SELECT count(*) FROM wallets WHERE campaign_id = $1", CAMPAIGN) < before + count:
            await asyncio.sleep(0.05)
        return count / (time.perf_counter() - started), published
    finally:
        await producer.stop()
        await conn.close()


# --- (2) milliseconds per sheet ---------------------------------------------------------------------


def seven_tickets() -> Sheet:
    amounts = [1000, 3000, 7000, 500, 1000, 1000, 1000]
    return Sheet("Léa Martin", "Pass Hauts-de-Seine 2098-2099", date(2099, 3, 31),
                 [SheetTicket(i, ticket_code.generate(), a, "Club de judo" if i == 3 else None)
                  for i, a in enumerate(amounts, start=1)])


def text_only_page(sheet: Sheet) -> bytes:
    """The same words in the same font at the same places, without barcodes or cut marks."""
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, pageCompression=1)
    for index, ticket in enumerate(sheet.tickets):
        top = PAGE_HEIGHT - MARGIN - index * SLOT_HEIGHT
        canvas.setFont(fonts().regular, 9)
        for line, text in enumerate((sheet.campaign_label, format_euros(ticket.amount_cents), sheet.student_name,
                                     f"Valable jusqu'au {format_day(sheet.valid_until)}",
                                     ticket.affiliate_name or "Tout organisme affilié",
                                     ticket_code.format_groups(ticket.code))):
            canvas.drawString(MARGIN + 12, top - 20 - 12 * line, text)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def ms_per(render, rounds: int) -> float:
    timings = []
    for _ in range(rounds):
        sheet = seven_tickets()
        started = time.perf_counter()
        render(sheet)
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


async def http_sheet_ms(process, stack, feed_dsn: str, rounds: int) -> float:
    """A wallet through Kafka, 7 credits over HTTP, then the sheet fetched `rounds` times."""
    event = pass_granted()
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        await producer.send_and_wait(event.topic.name,
                                     Envelope.wrap(event, producer="bench").model_dump_json().encode(),
                                     key=event.key().encode())
    finally:
        await producer.stop()
    conn = await asyncpg.connect(feed_dsn)
    try:
        while (wallet_id := await conn.fetchval(
                "SELECT wallet_id FROM wallets WHERE application_id = $1", event.application_id)) is None:
            await asyncio.sleep(0.05)
    finally:
        await conn.close()
    family = stack.auth("family", sub=event.family_sub)
    async with httpx.AsyncClient(base_url=process.url, timeout=30) as client:
        tickets = (await client.get(f"/v1/wallets/{wallet_id}", headers=family)).json()["tickets"]
        for ticket in tickets:
            answer = await client.post(f"/v1/wallets/{wallet_id}/tickets/{ticket['ticket_id']}/credit",
                                       headers=family, json={"amount_cents": 1000})
            answer.raise_for_status()
        timings = []
        for _ in range(rounds):
            started = time.perf_counter()
            answer = await client.get(f"/v1/wallets/{wallet_id}/tickets.pdf", headers=family)
            answer.raise_for_status()
            timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


async def main(wallets: int, sheets: int) -> None:
    stack = await asyncio.to_thread(start_test_stack)
    process = None
    try:
        baseline_dsn = await stack.create_database("wallet_bench_baseline")
        await db.migrate(baseline_dsn, MIGRATIONS, service="wallet")
        service_dsn = await stack.create_database("wallet_bench")
        process = stack.service("wallet", database_url=service_dsn)
        await asyncio.to_thread(process.start, timeout=120)

        batch = ServiceSettings.model_fields["consumer_batch_max_records"].default
        print(f"(1) wallets created from PassGranted events, {wallets} events"
              f" (load average {' '.join(f'{x:.2f}' for x in os.getloadavg())})")
        base = await baseline_wallets(baseline_dsn, wallets)
        batched = await baseline_wallets(baseline_dsn, wallets, per_transaction=batch)
        print(f"    baseline: the consumer's statements through asyncpg, a transaction per event   {base:6.0f} wallets/s")
        print(f"    the same statements for {batch} events a transaction, as the service runs them  {batched:6.0f} wallets/s")
        cpu_before = cpu_seconds(process.process.pid)
        full, published = await full_path_wallets(stack.kafka_bootstrap, service_dsn, wallets)
        cpu_ms = (cpu_seconds(process.process.pid) - cpu_before) * 1000 / wallets
        print(f"    full path: Kafka -> wallet process -> database                                 {full:6.0f} wallets/s"
              f"   (publishing took {published:.2f} s; wallet process CPU {cpu_ms:.2f} ms per wallet)")
        print(f"    ratio full path / baseline: {full / base:.2f}   (full path / batched baseline: {full / batched:.2f})")
        sampling = cpu_profile.sampling(process.process.pid)
        cpu_before = cpu_seconds(process.process.pid)
        await full_path_wallets(stack.kafka_bootstrap, service_dsn, wallets)
        cpu_ms = (cpu_seconds(process.process.pid) - cpu_before) * 1000 / wallets
        profile = sampling.stop()
        print(f"    where the wallet process's CPU goes (py-spy, another {wallets} events, {cpu_ms:.2f} ms per wallet):")
        print(profile.table("by stage", cpu_profile.by_stage(profile), cpu_ms, per="wallet"))
        print(profile.table("by library (innermost package frame)", cpu_profile.by_library(profile), cpu_ms,
                            per="wallet"))
        print(profile.table("hottest frames (own time)", profile.hottest(limit=8), cpu_ms, per="wallet"))
        print(f"    (load average {' '.join(f'{x:.2f}' for x in os.getloadavg())})")

        if not sheets:
            return
        print(f"(2) 7-ticket sheet, median of {sheets} renders")
        text_ms = ms_per(text_only_page, sheets)
        sheet_ms = ms_per(render_sheet, sheets)
        http_ms = await http_sheet_ms(process, stack, service_dsn, max(20, sheets // 5))
        print(f"    baseline: same page, text only                 {text_ms:8.2f} ms")
        print(f"    render_sheet (barcodes, cut marks)             {sheet_ms:8.2f} ms   ratio {sheet_ms / text_ms:.2f}")
        print(f"    GET tickets.pdf from the wallet process        {http_ms:8.2f} ms   ratio {http_ms / text_ms:.2f}")
    finally:
        if process is not None:
            await asyncio.to_thread(process.stop)
        await asyncio.to_thread(stack.stop)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--wallets", type=int, default=1000)
    parser.add_argument("--sheets", type=int, default=200)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.wallets, arguments.sheets))
