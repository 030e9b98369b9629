"""The one call off any request path, end to end: the family asks the real wallet service for its
tickets by e-mail; the notification service fetches the sheet (`?request_id=`, the snapshot the wallet
took when asked) with a service token and mails it. The two processes serve the module; each test reads its
own SMTP capture (conftest's `mailbox`, on the module's port)."""

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


@pytest.fixture(scope="module")
async def processes(stack, smtp_port):
    wallet = stack.service("wallet", database_url=await stack.create_database("wallet"), own_consumer_group=True)
    await asyncio.to_thread(wallet.start, timeout=120)
    notification = stack.service(
        "notification",
        database_url=await stack.create_database("notification"),
        smtp_port=smtp_port,
        own_consumer_group=True,
        env={"CARNET_WALLET_URL": wallet.url, "CARNET_NOTIFICATION_WORKER_POLL_SECONDS": "0.2"},
    )
    await asyncio.to_thread(notification.start, timeout=120)
    yield wallet, notification
    await asyncio.to_thread(notification.stop)
    await asyncio.to_thread(wallet.stop)


async def _wallet_with_two_credited_tickets(stack, wallet) -> tuple[str, str, str, dict]:
    """A family's wallet (PassGranted to the real wallet) with tickets 2 and 5 credited: its id, the
    family's sub and address, and {position: (ticket_id, code, campaign_id)}."""
    family_sub = f"family-{uuid.uuid4().hex[:10]}"
    guardian_email = f"anne-{uuid.uuid4().hex[:6]}@example.org"
    today = datetime.now(UTC).date()
    granted = ev.PassGranted(
        application_id=f"app-{uuid.uuid4()}", campaign_id=f"campaign-{uuid.uuid4().hex[:8]}",
        campaign_label=f"{today.year}-{today.year + 1}", school_id="0920001A", family_sub=family_sub,
        student=ev.Pupil(last_name="Martin", first_name="Léa", level="5e"),
        guardian=ev.GuardianContact(last_name="Martin", first_name="Anne", email=guardian_email),
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
            codes[position] = (by_position[position]["ticket_id"], response.json()["code"], granted.campaign_id)
    return wallet_id, family_sub, guardian_email, codes


async def _ask_by_email(stack, wallet, wallet_id: str, family_sub: str) -> None:
    async with httpx.AsyncClient(base_url=wallet.url, timeout=30) as client:
        response = await client.post(f"/v1/wallets/{wallet_id}/tickets/email", json={"positions": [2, 5]},
                                     headers=stack.auth("family", sub=family_sub))
    assert response.status_code == 202, response.text


def _codes_on(sheet_mail) -> str:
    (attachment,) = list(sheet_mail.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    text = PdfReader(io.BytesIO(attachment.get_content())).pages[0].extract_text()
    return text.replace("-", "").replace(" ", "").replace("\n", "")


async def test_tickets_asked_by_email_arrive_as_the_wallet_sheet_with_their_codes(stack, processes, mailbox):
    wallet, _ = processes
    wallet_id, family_sub, guardian_email, codes = await _wallet_with_two_credited_tickets(stack, wallet)
    await _ask_by_email(stack, wallet, wallet_id, family_sub)

    ready = await mailbox.one(
        guardian_email, "Pass Hauts-de-Seine : le porte-monnaie électronique de Léa est prêt", timeout=60
    )
    assert "70\u00a0€" in ready.get_body(("plain",)).get_content()
    sheet_mail = await mailbox.one(guardian_email, "Pass Hauts-de-Seine : vos 2 tickets en pièce jointe", timeout=60)
    flat = _codes_on(sheet_mail)
    for _, code, _ in codes.values():
        assert code.replace("-", "").replace(" ", "") in flat


async def test_the_ticket_email_carries_the_sheet_as_asked_although_a_ticket_was_redeemed_before_sending(
    stack, processes, mailbox
):
    wallet, notification = processes
    await asyncio.to_thread(notification.stop)  # the e-mail waits on Kafka while a ticket is redeemed
    try:
        wallet_id, family_sub, guardian_email, codes = await _wallet_with_two_credited_tickets(stack, wallet)
        await _ask_by_email(stack, wallet, wallet_id, family_sub)
        ticket_id, _, campaign_id = codes[2]
        await stack.publish(ev.TicketRedeemed(
            redemption_id=f"red-{uuid.uuid4()}", ticket_id=ticket_id, wallet_id=wallet_id, campaign_id=campaign_id,
            affiliate_id="aff-1", amount_cents=1000, code_suffix="XXXX", redeemed_at=datetime.now(UTC),
        ))
        async with httpx.AsyncClient(base_url=wallet.url, timeout=30) as client:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                shown = (await client.get(f"/v1/wallets/{wallet_id}",
                                          headers=stack.auth("family", sub=family_sub))).json()["tickets"]
                if {t["ticket_id"]: t["status"] for t in shown}[ticket_id] == "redeemed":
                    break
                await asyncio.sleep(0.2)
    finally:
        await asyncio.to_thread(notification.start, timeout=120)

    sheet_mail = await mailbox.one(guardian_email, "Pass Hauts-de-Seine : vos 2 tickets en pièce jointe", timeout=60)
    flat = _codes_on(sheet_mail)
    for _, code, _ in codes.values():  # the redeemed one too: the sheet as it was when asked
        assert code.replace("-", "").replace(" ", "") in flat
