"""The purge, the erasure, the export and the figures as the store runs them, on the session's real
PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from carnet_runtime import db
from notification.app import MIGRATIONS
from notification.domain import (
    About,
    FamilyCopy,
    NewMessage,
    RenderedMessage,
    Template,
    WalletCopy,
)
from notification.store import AddressBook, MessageRepository, PrivacyRepository

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)
LATER = NOW + timedelta(days=365)


@pytest.fixture
async def conn(database_url):
    await db.migrate(database_url, MIGRATIONS, service="notification")
    pool = await db.create_pool(database_url, min_size=1, max_size=2)
    async with pool.acquire() as connection:
        yield connection
    await pool.close()


async def _queue(conn, recipient: str, campaign_id: str | None, about: About, subject: str = "Noé, inscription",
                 template: Template = Template.APPLICATION_RECEIVED) -> uuid.UUID:
    message = NewMessage(
        event_id=uuid.uuid4(), template=template, recipient=recipient, forget_at=LATER, campaign_id=campaign_id,
        rendered=RenderedMessage(subject=subject, text=f"Bonjour {recipient}", html=f"<p>{recipient}</p>"),
        about=about, impersonal_subject="[effacé], inscription",
    )
    assert await MessageRepository(conn).add(message)
    return message.message_id


async def _family(conn, app: str, wallet: str, email: str, sub: str | None, campaign: str) -> None:
    book = AddressBook(conn)
    await book.remember_family(FamilyCopy(app, campaign, email, sub), LATER)
    await book.remember_wallet(WalletCopy(wallet, app, campaign, email, "Noé", sub), LATER)


async def test_the_purge_anonymises_the_campaigns_messages_keeps_the_figures_and_drops_its_copies(conn):
    await _family(conn, "app-1", "wal-1", "lea@example.fr", "family-lea", "2026-2027")
    await _family(conn, "app-9", "wal-9", "old@example.fr", "family-old", "2025-2026")
    await _queue(conn, "lea@example.fr", "2026-2027", About.of(["app-1"], family_subs=["family-lea"]))
    # a digest that arrived without its campaign, about that campaign's application
    await _queue(conn, "principal@college.fr", None, About.of(["app-1"]), template=Template.CORRESPONDENT_DIGEST)
    kept = await _queue(conn, "old@example.fr", "2025-2026", About.of(["app-9"]))
    await conn.execute("UPDATE messages SET state = 'sent', attempts = 1, sent_at = now()")
    privacy = PrivacyRepository(conn)
    before = await privacy.figures("2026-2027")
    assert before.messages == 1 and before.attempts == 1

    assert await privacy.purge_campaign("2026-2027", NOW) == 2

    assert await privacy.figures("2026-2027") == before
    rows = await conn.fetch("SELECT * FROM messages WHERE message_id <> $1", kept)
    for row in rows:
        assert row["recipient"] is None and row["body_text"] is None and row["body_html"] is None
        assert row["subject"] == "[effacé], inscription" and row["forgotten_at"] is not None
        assert row["application_ids"] == [] and row["family_subs"] == []
    assert await conn.fetchval("SELECT recipient FROM messages WHERE message_id = $1", kept) == "old@example.fr"
    assert [r[0] for r in await conn.fetch("SELECT application_id FROM families")] == ["app-9"]
    assert [r[0] for r in await conn.fetch("SELECT wallet_id FROM wallets")] == ["wal-9"]


async def test_an_erasure_finds_messages_by_ids_and_by_the_addresses_kept_and_spares_other_families(conn):
    await _family(conn, "app-1", "wal-1", "lea@example.fr", "family-lea", "2026-2027")
    await _family(conn, "app-2", "wal-2", "marc@example.fr", "family-marc", "2026-2027")
    await _queue(conn, "lea@example.fr", "2026-2027", About.of(wallet_ids=["wal-1"]))
    await _queue(conn, "lea@example.fr", None, About(), template=Template.BROADCAST)  # found by its address
    marc = await _queue(conn, "marc@example.fr", "2026-2027", About.of(["app-2"]))
    await conn.execute(
        """
        INSERT INTO outbox (event_id, topic, message_key, event_type, envelope, state)
        SELECT gen_random_uuid(), 'notification.messages', message_id::text, 'MessageDelivered', '{}'::jsonb, 'sent'
        FROM messages
        """
    )
    privacy = PrivacyRepository(conn)

    assert await privacy.erase(About.of(["app-1"], [], ["family-lea"]), NOW) == 2

    assert await conn.fetchval("SELECT count(*) FROM messages WHERE recipient = 'lea@example.fr'") == 0
    assert await conn.fetchval("SELECT recipient FROM messages WHERE message_id = $1", marc) == "marc@example.fr"
    assert await conn.fetchval("SELECT count(*) FROM families WHERE guardian_email = 'lea@example.fr'") == 0
    assert await conn.fetchval("SELECT count(*) FROM wallets WHERE guardian_email = 'lea@example.fr'") == 0
    assert [r[0] for r in await conn.fetch("SELECT message_key FROM outbox")] == [str(marc)]


async def test_a_person_is_found_by_family_account_or_address_with_their_messages_and_copies(conn):
    await _family(conn, "app-1", "wal-1", "lea@example.fr", "family-lea", "2026-2027")
    await _family(conn, "app-2", "wal-2", "marc@example.fr", "family-marc", "2026-2027")
    await _queue(conn, "lea@example.fr", "2026-2027", About.of(["app-1"]))
    await _queue(conn, "principal@college.fr", "2026-2027", About.of(["app-1", "app-2"]),
                 template=Template.CORRESPONDENT_DIGEST)
    await _queue(conn, "marc@example.fr", "2026-2027", About.of(["app-2"]))
    privacy = PrivacyRepository(conn)

    by_account = await privacy.person(family_sub="family-lea")
    by_address = await privacy.person(email="lea@example.fr")
    for person in (by_account, by_address):
        assert person.emails == ("lea@example.fr",) and person.wallet_ids == ("wal-1",)
        messages = await privacy.messages_of(person)
        assert sorted(m.recipient for m in messages) == ["lea@example.fr", "principal@college.fr"]
        copies = await privacy.copies_of(person)
        assert {(c.kind, c.id) for c in copies} == {("application", "app-1"), ("wallet", "wal-1")}
