"""The one call off any request path, end to end: the family asks the real wallet service for its
tickets by e-mail; the notification service fetches the sheet with a service token and mails it."""

from __future__ import annotations

import asyncio
import io
import time
import uuid
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from pypdf import PdfReader

from carnet_contracts import events as ev

pytestmark = pytest.mark.integration


@pytest.fixture
async def processes(stack, smtp_capture):
    wallet = stack.service("wallet", database_url=await stack.create_database("wallet"), own_consumer_group=True)
    await asyncio.to_thread(wallet.start, timeout=120)
    notification = stack.service(
        "notification",
        database_url=await stack.create_database("notification"),
        smtp_port=smtp_capture.port,
        own_consumer_group=True,
        env={"CARNET_WALLET_URL": wallet.url, "CARNET_NOTIFICATION_WORKER_POLL_SECONDS": "0.2"},
    )
    await asyncio.to_thread(notification.start, timeout=120)
    yield wallet, notification
    await asyncio.to_thread(notification.stop)
    await asyncio.to_thread(wallet.stop)


async def _mail_for(capture, to: str, subject: str, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in capture.messages():
            if message["To"] == to and message["Subject"] == subject:
                return message
        await asyncio.sleep(0.2)
    raise AssertionError(f"no '{subject}' for {to} within {timeout} s")


async def test_tickets_asked_by_email_arrive_as_the_wallet_sheet_with_their_codes(stack, processes, smtp_capture):
    wallet, _ = processes
    family_sub = f"family-{uuid.uuid4().hex[:10]}"
    guardian_email = f"anne-{uuid.uuid4().hex[:6]}@example.org"
    today = datetime.now(UTC).date()
    granted = ev.PassGranted(
        application_id=f"app-{uuid.uuid4()}", campaign_id=f"campaign-{uuid.uuid4().hex[:8]}",
        campaign_label=f"{today.year}-{today.year + 1}", school_id="0920001A", family_sub=family_sub,
        student=ev.Student(last_name="Martin", first_name="Léa", birth_date=date(today.year - 12, 5, 4), level="5e"),
        guardian=ev.Guardian(last_name="Martin", first_name="Anne", email=guardian_email),
        allowance_cents=7000, tickets_per_pass=7, ticket_min_cents=500, ticket_max_cents=7000,
        pass_valid_until=today + timedelta(days=200), validated_at=datetime.now(UTC),
    )
    await stack.publish(granted)
    created = await stack.wait_for_event(
        "wallet.wallets",
        lambda m: m["event_type"] == "WalletCreated" and m["data"]["application_id"] == granted.application_id,
        timeout=60,
    )
    wallet_id = created["data"]["wallet_id"]
    family = stack.auth("family", sub=family_sub)
    async with httpx.AsyncClient(base_url=wallet.url, timeout=30) as client:
        tickets = (await client.get(f"/v1/wallets/{wallet_id}", headers=family)).json()["tickets"]
        by_position = {t["position"]: t for t in tickets}
        codes = {}
        for position, amount in ((2, 1000), (5, 3000)):
            response = await client.post(
                f"/v1/wallets/{wallet_id}/tickets/{by_position[position]['ticket_id']}/credit",
                json={"amount_cents": amount}, headers=family,
            )
            assert response.status_code == 200, response.text
            codes[position] = response.json()["code"]
        response = await client.post(f"/v1/wallets/{wallet_id}/tickets/email", json={"positions": [2, 5]},
                                     headers=family)
        assert response.status_code == 202, response.text

    ready = await _mail_for(
        smtp_capture, guardian_email, "Pass Hauts-de-Seine : le porte-monnaie électronique de Léa est prêt"
    )
    assert "70\u00a0€" in ready.get_body(("plain",)).get_content()
    sheet_mail = await _mail_for(smtp_capture, guardian_email, "Pass Hauts-de-Seine : vos 2 tickets en pièce jointe")
    (attachment,) = list(sheet_mail.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    text = PdfReader(io.BytesIO(attachment.get_content())).pages[0].extract_text()
    flat = text.replace("-", "").replace(" ", "").replace("\n", "")
    for code in codes.values():
        assert code.replace("-", "").replace(" ", "") in flat
