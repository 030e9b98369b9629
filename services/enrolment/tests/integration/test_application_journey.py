"""An application from submission to wallet_ready, through the real PostgreSQL and Kafka."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest

from carnet_contracts.events import WalletCreated
from carnet_contracts.topics import WALLET_WALLETS

pytestmark = pytest.mark.integration


async def _wait_status(http, application_id, headers, status, timeout=30.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        r = await http.get(f"/v1/applications/{application_id}", headers=headers)
        assert r.status_code == 200, r.text
        if r.json()["status"] == status or asyncio.get_running_loop().time() > deadline:
            return r.json()
        await asyncio.sleep(0.2)


async def test_submitted_validated_by_its_school_granted_then_wallet_ready(world, stack, http, enrolment):
    r = await http.post("/v1/applications", headers=world.family, json=world.application())
    assert r.status_code == 201, r.text
    application_id = r.json()["application_id"]
    assert r.json()["status"] == "submitted"

    # A family sees only its own applications.
    assert (await http.get(f"/v1/applications/{application_id}", headers=world.other_family)).status_code == 403
    assert (await http.get("/v1/applications", headers=world.other_family)).json() == []
    own = (await http.get("/v1/applications", headers=world.family)).json()
    assert [a["application_id"] for a in own] == [application_id]

    # Only the correspondent of that school validates.
    r = await http.post(f"/v1/applications/{application_id}/validate", headers=world.correspondent_b)
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "NOT_SCHOOL_CORRESPONDENT"
    r = await http.post(f"/v1/applications/{application_id}/validate", headers=world.correspondent_a)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "validated"
    again = await http.post(f"/v1/applications/{application_id}/validate", headers=world.correspondent_a)
    assert again.status_code == 409 and again.json()["error"]["code"] == "APPLICATION_NOT_PENDING"

    # A test consumer reads the PassGranted the outbox relay published.
    granted = await stack.wait_for_event(
        "enrolment.applications",
        lambda m: m.get("event_type") == "PassGranted" and m["data"]["application_id"] == application_id,
    )
    data = granted["data"]
    assert granted["campaign_id"] == world.campaign_id and granted["producer"] == "enrolment"
    assert data["student"] == {"last_name": "Lefèvre", "first_name": "Anaïs",
                               "birth_date": world.birth_date.isoformat(), "level": "6e"}
    assert data["guardian"]["email"] == "parent@example.fr"
    assert data["family_sub"] == world.family_sub
    assert (data["allowance_cents"], data["tickets_per_pass"]) == (7000, 7)
    assert data["pass_valid_until"] == world.calendar.pass_valid_until.isoformat()
    published = await stack.wait_for_event(
        "enrolment.campaigns", lambda m: m.get("campaign_id") == world.campaign_id
    )
    assert published["data"]["redemption_cancel_grace_minutes"] == 20

    # The wallet service announces the wallet; the family's progress shows it.
    wallet_id = f"w-{uuid.uuid4().hex[:8]}"
    created = WalletCreated(
        wallet_id=wallet_id, application_id=application_id, campaign_id=world.campaign_id,
        family_sub=world.family_sub, ticket_count=7, allowance_cents=7000,
        valid_until=world.calendar.pass_valid_until, student_first_name="Anaïs",
        guardian_email="parent@example.fr", created_at=datetime.now(UTC),
    )
    envelope = await stack.publish(created, producer="wallet")
    view = await _wait_status(http, application_id, world.family, "wallet_ready")
    assert view["status"] == "wallet_ready"
    assert view["wallet_id"] == wallet_id
    assert [h["status"] for h in view["history"]] == ["submitted", "validated", "wallet_ready"]

    # The same event delivered twice changes nothing: checked once the service has consumed it.
    await stack.publish(created, producer="wallet", event_id=envelope.event_id)
    await stack.caught_up(enrolment.consumer_group, [WALLET_WALLETS.name])
    view = (await http.get(f"/v1/applications/{application_id}", headers=world.family)).json()
    assert len(view["history"]) == 3


async def test_a_wallet_for_an_unknown_application_goes_to_the_dead_letter_topic(enrolment, stack):
    stray = WalletCreated(
        wallet_id=f"w-{uuid.uuid4().hex[:8]}", application_id=f"no-such-{uuid.uuid4().hex[:8]}", campaign_id="c",
        ticket_count=7, allowance_cents=7000, valid_until=datetime.now(UTC).date(), student_first_name="Anaïs",
        guardian_email="parent@example.fr", created_at=datetime.now(UTC),
    )
    await stack.publish(stray, producer="wallet")
    records = await stack.events(
        "wallet.wallets.dlt", raw=True, timeout=30,
        until=lambda found: any(r.key == stray.wallet_id.encode() for r in found),
    )
    dead = [r for r in records if r.key == stray.wallet_id.encode()]
    assert dead, "the stray WalletCreated was not dead-lettered"
    reason = dict(dead[0].headers)["x-dead-letter-reason"].decode()
    assert "UNKNOWN_APPLICATION" in reason
