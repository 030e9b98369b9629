"""Issue 12: activation links, reset links, convention and IBAN change codes reach the mailbox, and
nothing of them stays in clear in the notification database (nor in the service's log) once the
e-mails are sent."""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest

from carnet_contracts import events as ev
from carnet_contracts.sealing import seal
from carnet_local.testing import poll_database

pytestmark = pytest.mark.integration

ACTIVATION_URL = "https://pass.example/affilies/activation"
RESET_URL = "https://pass.example/affilies/mot-de-passe"
TEXT_TYPES = ("text", "character varying", "character", "json", "jsonb", "ARRAY", "USER-DEFINED", "xml")


@pytest.fixture
async def notification(stack, smtp_capture):
    database_url = await stack.create_database("notification")
    process = stack.service(
        "notification",
        database_url=database_url,
        smtp_port=smtp_capture.port,
        own_consumer_group=True,  # only what this test publishes, not what earlier tests left on the topics
        env={
            "CARNET_NOTIFICATION_WORKER_POLL_SECONDS": "0.2",
            "CARNET_NOTIFICATION_ACTIVATION_URL": ACTIVATION_URL,
            "CARNET_NOTIFICATION_PASSWORD_RESET_URL": RESET_URL,
        },
    )
    await asyncio.to_thread(process.start, timeout=120)
    yield process, database_url
    await asyncio.to_thread(process.stop)


async def _mails_for(capture, to: str, count: int, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = {m["Subject"]: m for m in capture.messages() if m["To"] == to}
        if len(found) >= count:
            return found
        await asyncio.sleep(0.2)
    raise AssertionError(f"fewer than {count} e-mails for {to} within {timeout} s")


async def _every_stored_value(database_url: str) -> dict[str, list[str]]:
    """Every value of every column that can hold text, json or bytes, of every table, as text."""
    conn = await asyncpg.connect(database_url)
    try:
        columns = await conn.fetch(
            """
            SELECT c.table_schema, c.table_name, c.column_name, c.data_type
            FROM information_schema.columns c
            JOIN information_schema.tables t ON (t.table_schema, t.table_name) = (c.table_schema, c.table_name)
            WHERE t.table_type = 'BASE TABLE' AND c.table_schema NOT IN ('pg_catalog', 'information_schema')
            ORDER BY 1, 2, 3
            """
        )
        values: dict[str, list[str]] = {}
        for schema, table, column, data_type in columns:
            if data_type == "bytea":
                expression = f'encode("{column}", \'escape\')'
            elif data_type in TEXT_TYPES:
                expression = f'"{column}"::text'
            else:
                continue
            rows = await conn.fetch(f'SELECT {expression} FROM "{schema}"."{table}" WHERE "{column}" IS NOT NULL')
            values.setdefault(table, []).extend(f"{column}: {r[0]}" for r in rows)
        return values
    finally:
        await conn.close()


async def test_after_the_activation_reset_and_code_emails_are_sent_no_table_holds_the_token_link_or_code(
    stack, notification, smtp_capture
):
    process, database_url = notification
    seal_key = stack.secrets["CARNET_SEAL_KEY"]
    club = f"club-{uuid.uuid4().hex[:8]}@example.org"
    activation_token = "Act1vation_" + secrets.token_urlsafe(24)
    reset_token = "R3set_" + secrets.token_urlsafe(24)
    code = f"{secrets.randbelow(10**6):06d}"
    iban_code = f"{secrets.randbelow(10**6):06d}"
    activation_link, reset_link = f"{ACTIVATION_URL}?token={activation_token}", f"{RESET_URL}?token={reset_token}"
    now = datetime.now(UTC)

    await stack.publish(ev.AffiliateInvited(
        affiliate_id=f"aff-{club}", name="Judo Club", login="judo-club", contact_email=club,
        sealed_activation_token=seal(activation_token, seal_key), activation_expires_at=now + timedelta(days=7),
    ))
    await stack.publish(ev.ConventionOtpIssued(
        affiliate_id=f"aff-{club}", name="Judo Club", contact_email=club, sealed_otp=seal(code, seal_key),
        expires_at=now + timedelta(minutes=10),
    ))
    await stack.publish(ev.PasswordResetRequested(
        affiliate_id=f"aff-{club}", login="judo-club", contact_email=club,
        sealed_reset_token=seal(reset_token, seal_key), expires_at=now + timedelta(hours=1),
    ))
    await stack.publish(ev.IbanChangeOtpIssued(
        affiliate_id=f"aff-{club}", name="Judo Club", contact_email=club, sealed_otp=seal(iban_code, seal_key),
        new_iban_suffix="4321", expires_at=now + timedelta(minutes=15),
    ))

    # the secrets reach the mailbox, as written
    mails = await _mails_for(smtp_capture, club, 4)
    texts = {subject: mail.get_body(("plain",)).get_content() for subject, mail in mails.items()}
    htmls = {subject: mail.get_body(("html",)).get_content() for subject, mail in mails.items()}
    invitation = "Pass Hauts-de-Seine : votre identifiant d'organisme affilié"
    reset = "Pass Hauts-de-Seine : choisir un nouveau mot de passe"
    otp = "Pass Hauts-de-Seine : votre code de signature de la convention"
    assert activation_link in texts[invitation].splitlines() and f'href="{activation_link}"' in htmls[invitation]
    assert reset_link in texts[reset].splitlines() and f'href="{reset_link}"' in htmls[reset]
    assert code in texts[otp] and code in htmls[otp]
    iban = "Pass Hauts-de-Seine : votre code pour confirmer le changement d'IBAN"
    assert iban_code in texts[iban] and iban_code in htmls[iban]

    # once the three outcomes are written (the mail is in before the worker records it)
    await poll_database(
        database_url, "SELECT count(*) = 4 FROM messages WHERE recipient = $1 AND state = 'sent'", club
    )
    stored = await _every_stored_value(database_url)
    assert {"messages", "delivery_log", "outbox", "inbox"} <= set(stored)
    everything = "\n".join(value for values in stored.values() for value in values)
    assert everything.count("[lien retiré]") >= 4 and everything.count("[code retiré]") >= 4  # the scan sees bodies
    for secret in (activation_token, reset_token, activation_link, reset_link, code, iban_code):
        leaks = [f"{table}.{value[:60]}" for table, values in stored.items() for value in values if secret in value]
        assert leaks == [], f"a secret is kept in clear in {leaks}"
    service_log = process.log_file.read_text(errors="replace")
    assert activation_token not in service_log and reset_token not in service_log

    # the log shows the redacted bodies only
    async with httpx.AsyncClient(base_url=process.url) as client:
        response = await client.get("/v1/messages", params={"recipient": club}, headers=stack.auth("admin"))
    assert response.status_code == 200, response.text
    bodies = {m["template"]: m["body"] for m in response.json()["messages"]}
    assert "[lien retiré]" in bodies["affiliate_invitation"] and "[lien retiré]" in bodies["password_reset"]
    assert "[code retiré]" in bodies["convention_otp"] and "[code retiré]" in bodies["iban_change_otp"]
    assert not any(secret in response.text for secret in (activation_token, reset_token, code, iban_code))
