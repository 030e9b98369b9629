"""Void gives the ticket back, replacing a lost ticket, and ticket e-mails as they were asked, on
the real stack (the redemption service's answers played on Kafka)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import httpx
import pytest

from carnet_contracts import ticket_code
from carnet_contracts.events import (
    RedemptionCancelled,
    TicketRedeemed,
    TicketReplaced,
    TicketReplaceRefused,
    TicketVoided,
)
from carnet_contracts.topics import WALLET_TICKETS, WALLET_WALLETS

from .conftest import barcodes, credit_tickets

pytestmark = pytest.mark.integration


async def a_credited_wallet(stack, feed, client, *amounts):
    granted = feed.pass_granted()
    wallet_id = await feed.wallet_of(granted)
    family = stack.auth("family", sub=granted.family_sub)
    ids, codes = await credit_tickets(client, wallet_id, family, amounts)
    return wallet_id, family, ids, codes


async def test_a_voided_ticket_is_blank_again_and_credited_again_gets_a_new_code(stack, wallet, feed):
    process, _ = wallet
    async with httpx.AsyncClient(base_url=process.url, timeout=30) as client:
        wallet_id, family, ids, [old, late] = await a_credited_wallet(stack, feed, client, 7000 - 1000, 1000)
        void = await client.post(f"/v1/wallets/{wallet_id}/tickets/{ids[0]}/void", headers=family)
        assert (void.status_code, void.json()["status"]) == (202, "void_pending")
        common = dict(wallet_id=wallet_id, campaign_id=feed.campaign_id)
        await stack.publish(TicketVoided(ticket_id=ids[0], amount_cents=6000, voided_at=datetime.now(UTC), **common))
        await feed.until("SELECT status = 'blank' FROM tickets WHERE ticket_id = $1::uuid", ids[0])
        shown = (await client.get(f"/v1/wallets/{wallet_id}", headers=family)).json()
        assert (shown["tickets"][0]["status"], shown["tickets"][0]["code"], shown["remaining_cents"]) == ("blank", None, 6000)
        again = await client.post(f"/v1/wallets/{wallet_id}/tickets/{ids[0]}/credit", headers=family,
                                  json={"amount_cents": 6000})
        assert again.status_code == 200, again.text
        new = again.json()["code"]
        assert new != old

        # The admin cancels the second ticket's redemption late and voids it: blank again too.
        now = datetime.now(UTC)
        await stack.publish(TicketRedeemed(redemption_id="r-1", ticket_id=ids[1], affiliate_id="aff-1",
                                           amount_cents=1000, code_suffix=late[-4:], redeemed_at=now, **common))
        await stack.publish(RedemptionCancelled(redemption_id="r-1", ticket_id=ids[1], affiliate_id="aff-1",
                                                amount_cents=1000, cancelled_at=now, cancelled_by_role="admin",
                                                reason="erreur de saisie", then="void", **common))
        await feed.until("SELECT status = 'void_pending' FROM tickets WHERE ticket_id = $1::uuid", ids[1])
        await stack.publish(TicketVoided(ticket_id=ids[1], amount_cents=1000, voided_at=now, **common))
        await feed.until("SELECT status = 'blank' FROM tickets WHERE ticket_id = $1::uuid", ids[1])
    key = stack.secrets["CARNET_TICKET_CODE_HASH_KEY"].encode()
    events = await stack.events(WALLET_TICKETS.name, timeout=30, until=lambda found: sum(
        m["event_type"] == "TicketCredited" and m["data"]["ticket_id"] == ids[0] for m in found) >= 2)
    hashes = [m["data"]["code_hash"] for m in events
              if m["event_type"] == "TicketCredited" and m["data"]["ticket_id"] == ids[0]]
    assert hashes == [ticket_code.code_hash(old, key), ticket_code.code_hash(new, key)]


async def test_a_replaced_ticket_gets_its_new_code_once_revoked_and_the_new_sheet_is_emailed(stack, wallet, feed):
    process, _ = wallet
    notification = stack.auth("service", sub="notification", scope="wallet.tickets_pdf")
    async with httpx.AsyncClient(base_url=process.url, timeout=30) as client:
        wallet_id, family, ids, [old] = await a_credited_wallet(stack, feed, client, 2500)
        answer = await client.post(f"/v1/wallets/{wallet_id}/tickets/{ids[0]}/replace", headers=family)
        assert (answer.status_code, answer.json()["status"]) == (202, "replace_pending")
        requested = await stack.wait_for_event(WALLET_TICKETS.name, lambda m: m["event_type"] == "TicketReplaceRequested"
                                               and m["data"]["ticket_id"] == ids[0])
        await stack.publish(TicketReplaced(ticket_id=ids[0], wallet_id=wallet_id, campaign_id=feed.campaign_id,
                                           replaced_at=datetime.now(UTC)))
        await feed.until("SELECT status = 'credited' AND pending_code_hash IS NULL FROM tickets "
                         "WHERE ticket_id = $1::uuid", ids[0])
        ticket = (await client.get(f"/v1/wallets/{wallet_id}", headers=family)).json()["tickets"][0]
        new = ticket["code"]
        key = stack.secrets["CARNET_TICKET_CODE_HASH_KEY"].encode()
        assert new != old and ticket["amount_cents"] == 2500
        assert requested["data"]["new_code_hash"] == ticket_code.code_hash(new, key)
        assert requested["data"]["new_code_suffix"] == new[-4:]
        assert old not in str(requested) and new not in str(requested)
        mail = await stack.wait_for_event(WALLET_WALLETS.name, lambda m: m["event_type"] == "TicketsEmailRequested"
                                          and m["data"]["wallet_id"] == wallet_id)
        assert (mail["data"]["reason"], mail["data"]["positions"]) == ("replaced", [1])
        pdf = await client.get(f"/v1/wallets/{wallet_id}/tickets.pdf", headers=notification,
                               params={"request_id": mail["data"]["request_id"]})
        assert pdf.status_code == 200, pdf.text
        assert barcodes(pdf.content) == [new]


async def test_a_ticket_redeemed_before_its_replacement_stays_redeemed_with_the_reason(stack, wallet, feed):
    process, _ = wallet
    async with httpx.AsyncClient(base_url=process.url, timeout=30) as client:
        wallet_id, family, ids, [code] = await a_credited_wallet(stack, feed, client, 1000)
        assert (await client.post(f"/v1/wallets/{wallet_id}/tickets/{ids[0]}/replace", headers=family)).status_code == 202
        now = datetime.now(UTC)
        common = dict(ticket_id=ids[0], wallet_id=wallet_id, campaign_id=feed.campaign_id)
        await stack.publish(TicketRedeemed(redemption_id=str(uuid.uuid4()), affiliate_id="aff-9", amount_cents=1000,
                                           code_suffix=code[-4:], redeemed_at=now, **common))
        await stack.publish(TicketReplaceRefused(reason_code="TICKET_ALREADY_REDEEMED",
                                                 reason="Ce ticket a été utilisé avant d'être remplacé.",
                                                 redeemed_at=now, affiliate_id="aff-9", **common))
        await feed.until("SELECT replace_refusal_reason IS NOT NULL FROM tickets WHERE ticket_id = $1::uuid", ids[0])
        ticket = (await client.get(f"/v1/wallets/{wallet_id}", headers=family)).json()["tickets"][0]
    assert (ticket["status"], ticket["redeemed_by"]["affiliate_id"]) == ("redeemed", "aff-9")
    assert ticket["replace_refusal_reason"] == "Ce ticket a été utilisé avant d'être remplacé."
    assert await feed.fetchval("SELECT pending_code_ciphertext IS NULL FROM tickets WHERE ticket_id = $1::uuid", ids[0])


async def test_the_ticket_email_carries_the_sheet_as_asked_although_a_ticket_was_redeemed_since(stack, wallet, feed):
    process, _ = wallet
    notification = stack.auth("service", sub="notification", scope="wallet.tickets_pdf")
    async with httpx.AsyncClient(base_url=process.url, timeout=30) as client:
        wallet_id, family, ids, codes = await a_credited_wallet(stack, feed, client, 1000, 2000)
        asked = await client.post(f"/v1/wallets/{wallet_id}/tickets/email", headers=family)
        assert asked.status_code == 202
        request_id = asked.json()["request_id"]
        await stack.publish(TicketRedeemed(redemption_id=str(uuid.uuid4()), ticket_id=ids[0], wallet_id=wallet_id,
                                           campaign_id=feed.campaign_id, affiliate_id="aff-1", amount_cents=1000,
                                           code_suffix=codes[0][-4:], redeemed_at=datetime.now(UTC)))
        await feed.until("SELECT status = 'redeemed' FROM tickets WHERE ticket_id = $1::uuid", ids[0])
        today = await client.get(f"/v1/wallets/{wallet_id}/tickets.pdf?positions=1", headers=family)
        assert (today.status_code, today.json()["error"]["code"]) == (409, "TICKET_NOT_PRINTABLE")
        pdf = await client.get(f"/v1/wallets/{wallet_id}/tickets.pdf", headers=notification,
                               params={"request_id": request_id})
        assert pdf.status_code == 200, pdf.text
        assert barcodes(pdf.content) == sorted(codes)
        refused = await client.get(f"/v1/wallets/{wallet_id}/tickets.pdf", headers=family,
                                   params={"request_id": request_id})
        assert (refused.status_code, refused.json()["error"]["code"]) == (403, "FORBIDDEN")
        unknown = await client.get(f"/v1/wallets/{wallet_id}/tickets.pdf", headers=notification,
                                   params={"request_id": str(uuid.uuid4())})
        assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "EMAIL_REQUEST_UNKNOWN")
