"""Ticket codes encrypted at rest, on the real database: a dump of every table holds no code
(pending replacement codes and e-mail snapshots included) while the owner still sees and prints
them; codes credited before encryption, or sealed under an old key, move under the first key."""

from __future__ import annotations

import asyncio
import json
import shutil
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import asyncpg
import httpx
import pytest

from carnet_contracts import ticket_code
from carnet_contracts.events import TicketReplaced
from carnet_contracts.topics import ALL_TOPICS
from carnet_runtime.db import apply_migrations
from wallet.app import MIGRATIONS
from wallet.codes import CodeVault, Sealed, pending_place

from .conftest import FAST_PERIODIC, Feed, barcodes, code_forms

pytestmark = pytest.mark.integration


async def test_a_dump_of_the_wallet_database_holds_no_ticket_code_while_the_owner_sees_and_prints_them(
        stack, wallet, feed):
    process, _ = wallet
    granted = feed.pass_granted()
    wallet_id = await feed.wallet_of(granted)
    family = stack.auth("family", sub=granted.family_sub)
    async with httpx.AsyncClient(base_url=process.url, timeout=30) as client:
        tickets = (await client.get(f"/v1/wallets/{wallet_id}", headers=family)).json()["tickets"]
        ids = [t["ticket_id"] for t in tickets[:3]]
        codes = []
        for ticket_id in ids:
            answer = await client.post(f"/v1/wallets/{wallet_id}/tickets/{ticket_id}/credit", headers=family,
                                       json={"amount_cents": 1000})
            codes.append(answer.json()["code"])
        assert (await client.post(f"/v1/wallets/{wallet_id}/tickets/email", headers=family)).status_code == 202
        # One replacement done (the new code is the ticket's, and in the e-mail's snapshot), one pending.
        for ticket_id in ids[1:]:
            assert (await client.post(f"/v1/wallets/{wallet_id}/tickets/{ticket_id}/replace",
                                      headers=family)).status_code == 202
        await stack.publish(TicketReplaced(ticket_id=ids[1], wallet_id=wallet_id, campaign_id=feed.campaign_id,
                                           replaced_at=datetime.now(UTC)))
        await feed.until("SELECT count(*) = 2 FROM sheet_snapshots WHERE wallet_id = $1::uuid", wallet_id)
        shown = (await client.get(f"/v1/wallets/{wallet_id}", headers=family)).json()["tickets"]
        replacement = shown[1]["code"]
        assert [shown[0]["code"], shown[2]["status"]] == [codes[0], "replace_pending"]
        sheet = await client.get(f"/v1/wallets/{wallet_id}/tickets.pdf", headers=family)
        assert barcodes(sheet.content) == sorted([codes[0], replacement])

    # The pending code is in the database only sealed: the service's key opens it, the dump never shows it.
    vault = CodeVault({k: bytes.fromhex(v) for k, v in json.loads(stack.secrets["CARNET_WALLET_CODE_KEYS"]).items()},
                      stack.secrets["CARNET_TICKET_CODE_HASH_KEY"].encode())
    row = (await feed.fetch("SELECT pending_code_key_id, pending_code_ciphertext FROM tickets WHERE ticket_id = $1::uuid",
                            ids[2]))[0]
    pending = vault.open(Sealed(row[0], bytes(row[1])), pending_place(uuid.UUID(ids[2])))
    assert ticket_code.parse(pending) == pending

    dump = await feed.dump()
    assert wallet_id in dump and "sheet_snapshot_tickets:" in dump, "the dump reads every table"
    for code in [*codes, replacement, pending]:
        for form in code_forms(code):
            assert form not in dump


def private_topics() -> dict[str, str]:
    """Topic names only this process uses, and its own consumer group: it reads and writes nothing
    the session's other processes see."""
    suffix = uuid.uuid4().hex[:8]
    env = {topic.env_var: f"{topic.default_name}.{suffix}" for topic in ALL_TOPICS}
    env["CARNET_WALLET_CONSUMER_GROUP"] = f"wallet-{suffix}"
    return env


async def test_codes_credited_before_encryption_then_under_an_old_key_move_under_the_first_key(stack, tmp_path):
    database_url = await stack.create_database("wallet_legacy")
    first_only = tmp_path / "0001"
    first_only.mkdir()
    shutil.copy(MIGRATIONS / "0001_wallets.sql", first_only)
    codes = [ticket_code.generate() for _ in range(2)]
    wallet_id, ticket_ids = uuid.uuid4(), [uuid.uuid4() for _ in range(3)]
    conn = await asyncpg.connect(database_url)
    try:
        await apply_migrations(conn, Path(first_only), scope="wallet")
        await conn.execute(
            """
            INSERT INTO wallets (wallet_id, application_id, campaign_id, campaign_label, school_id, owner_sub,
                guardian_email, student_last_name, student_first_name, student_level, allowance_cents,
                tickets_per_pass, ticket_min_cents, ticket_max_cents, valid_until)
            VALUES ($1, 'app-legacy', 'legacy', 'Pass', '0920001A', 'family-legacy', 'x@example.org', 'Martin',
                    'Léa', '5e', 7000, 3, 500, 7000, $2)
            """, wallet_id, date(2099, 3, 31))
        await conn.executemany(
            "INSERT INTO tickets (ticket_id, wallet_id, position, status, amount_cents, code, credited_at) "
            "VALUES ($1, $2, $3, $4, $5, $6, now())",
            [(ticket_ids[0], wallet_id, 1, "credited", 1000, codes[0]),
             (ticket_ids[1], wallet_id, 2, "redeemed", 2000, codes[1]),
             (ticket_ids[2], wallet_id, 3, "voided", 3000, ticket_code.generate())])
    finally:
        await conn.close()
    feed = Feed(stack, database_url)
    old_key, new_key = "a" * 64, "b" * 64
    process = stack.service("wallet", database_url=database_url, env={
        **FAST_PERIODIC, **private_topics(), "CARNET_WALLET_CODE_KEYS": json.dumps({"old": old_key})})
    await asyncio.to_thread(process.start, timeout=120)
    try:
        await feed.until("SELECT count(*) = 2 FROM tickets WHERE code_key_id = 'old' AND code_hash IS NOT NULL")
        # A voided ticket of before is blank again: its amount can be credited once more.
        assert await feed.fetchval("SELECT status FROM tickets WHERE ticket_id = $1", ticket_ids[2]) == "blank"
        # Rotation: a new key first; the old one still opens what it sealed until everything moved.
        process.stop()
        process.env["CARNET_WALLET_CODE_KEYS"] = json.dumps({"new": new_key, "old": old_key})
        await asyncio.to_thread(process.start, timeout=120)
        await feed.until("SELECT count(*) = 2 FROM tickets WHERE code_key_id = 'new'")
        process.stop()
        process.env["CARNET_WALLET_CODE_KEYS"] = json.dumps({"new": new_key})
        await asyncio.to_thread(process.start, timeout=120)
        async with httpx.AsyncClient(base_url=process.url, timeout=30) as client:
            shown = (await client.get(f"/v1/wallets/{wallet_id}",
                                      headers=stack.auth("family", sub="family-legacy"))).json()
            sheet = await client.get(f"/v1/wallets/{wallet_id}/tickets.pdf", headers=stack.auth("family", sub="family-legacy"))
        assert [t["status"] for t in shown["tickets"]] == ["credited", "redeemed", "blank"]
        assert shown["tickets"][0]["code"] == codes[0] and shown["remaining_cents"] == 4000
        assert barcodes(sheet.content) == [codes[0]]
        columns = await feed.fetch("SELECT column_name FROM information_schema.columns WHERE table_name = 'tickets'")
        assert "code" not in {c["column_name"] for c in columns}
        dump = await feed.dump()
        assert all(form not in dump for code in codes for form in code_forms(code))
    finally:
        await asyncio.to_thread(process.stop)
