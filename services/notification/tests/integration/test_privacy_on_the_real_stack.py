"""Issue 13 on the real stack: a season's e-mails sent, then a family's export (its own, and the admin's
by address), a family's erasure (GuardianErasureRequested) and the campaign's purge
(CampaignPurgeStarted, through the runtime's hook): afterwards no column of any table of the service's
database holds that season's names or addresses, and `GET /v1/stats` gives the same figures. The season's
campaign is dated from today and the e-mails go to the test's own capture (conftest)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import asyncpg
import httpx
import pytest

from carnet_contracts import events as ev
from carnet_local.testing import poll_database

from .support import Campaign, iso_week

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)
TEXT_TYPES = ("text", "character varying", "json", "jsonb", "ARRAY")


def _id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def _stored_text(database_url: str) -> str:
    """Every value of every text, json or array column of every table, as one text."""
    conn = await asyncpg.connect(database_url)
    try:
        columns = await conn.fetch(
            """
            SELECT c.table_name, c.column_name FROM information_schema.columns c
            JOIN information_schema.tables t USING (table_schema, table_name)
            WHERE t.table_type = 'BASE TABLE' AND c.table_schema = 'public' AND c.data_type = ANY($1::text[])
            """,
            list(TEXT_TYPES),
        )
        values = []
        for table, column in columns:
            rows = await conn.fetch(f'SELECT "{column}"::text FROM "{table}" WHERE "{column}" IS NOT NULL')
            values.extend(f"{table}.{column}: {r[0]}" for r in rows)
        return "\n".join(values)
    finally:
        await conn.close()


async def _get(notification, path: str, headers: dict, **params) -> dict:
    async with httpx.AsyncClient(base_url=notification.url) as client:
        response = await client.get(path, params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


class Family:
    def __init__(self, campaign: Campaign, first_name: str, last_name: str):
        self.campaign, self.first_name, self.last_name = campaign, first_name, last_name
        self.sub, self.application_id, self.wallet_id = _id("family"), _id("app"), _id("wal")
        self.email = f"{first_name.lower()}.{uuid.uuid4().hex[:6]}@example.fr"

    async def season(self, stack) -> None:
        guardian = ev.GuardianContact(last_name=self.last_name, first_name="Parent", email=self.email)
        pupil = ev.Pupil(last_name=self.last_name, first_name=self.first_name, level="5e")
        await stack.publish(ev.ApplicationSubmitted(
            application_id=self.application_id, campaign_id=self.campaign.campaign_id, school_id="0920001A",
            family_sub=self.sub, student=pupil, guardian=guardian, submitted_at=NOW,
        ))
        await stack.publish(ev.PassGranted(
            application_id=self.application_id, campaign_id=self.campaign.campaign_id,
            campaign_label=self.campaign.label, school_id="0920001A", family_sub=self.sub, student=pupil,
            guardian=guardian, allowance_cents=7000, tickets_per_pass=7, ticket_min_cents=500,
            ticket_max_cents=7000, pass_valid_until=self.campaign.pass_valid_until, validated_at=NOW,
        ))
        await stack.publish(ev.WalletCreated(
            wallet_id=self.wallet_id, application_id=self.application_id, campaign_id=self.campaign.campaign_id,
            family_sub=self.sub, ticket_count=7, allowance_cents=7000, valid_until=self.campaign.pass_valid_until,
            student_first_name=self.first_name, guardian_email=self.email, created_at=NOW,
        ))

    @property
    def traces(self) -> tuple[str, ...]:
        return (self.email, self.first_name, self.last_name, self.sub, self.application_id, self.wallet_id)


async def test_export_erasure_and_purge_of_a_season(stack, notification, mailbox, campaign):
    database = notification.env["CARNET_NOTIFICATION_DATABASE_URL"]
    lea, marc = Family(campaign, "Noémie", "Lefebvre"), Family(campaign, "Jules", "Garnier")
    campaign_id = campaign.campaign_id
    for family in (lea, marc):
        await family.season(stack)
    correspondent = f"{_id('principal')}@college.fr"
    await stack.publish(ev.CorrespondentDigestDue(
        digest_id=_id("digest"), school_id="0920001A", school_name="Collège Paul Éluard",
        correspondent_email=correspondent, week=iso_week(NOW.date()), total_waiting=2, oldest_submitted_at=NOW,
        due_at=NOW,
        waiting=[ev.WaitingFile(application_id=f.application_id, student_last_name=f.last_name,
                                student_first_name=f.first_name, submitted_at=NOW) for f in (lea, marc)],
    ))
    for family in (lea, marc):
        await mailbox.wait_for(family.email, 2)
    await mailbox.wait_for(correspondent)
    await poll_database(database, "SELECT count(*) = 5 FROM messages WHERE campaign_id = $1 AND state = 'sent'",
                        campaign_id)

    # a family's own export: its messages with their bodies, the digest that names its child without
    # the body (it names another family's child too), nothing of the other family
    export = await _get(notification, "/v1/privacy/export", stack.auth("family", sub=lea.sub))
    assert export["service"] == "notification" and export["family_sub"] == lea.sub
    mine = {m["template"]: m for m in export["messages"]}
    assert set(mine) == {"application_received", "wallet_ready", "correspondent_digest"}
    assert mine["application_received"]["to_them"] and "Noémie Lefebvre" in mine["application_received"]["body"]
    assert mine["correspondent_digest"]["body"] is None and mine["correspondent_digest"]["recipient"] is None
    assert {(a["kind"], a["id"]) for a in export["addresses"]} >= {("application", lea.application_id),
                                                                   ("wallet", lea.wallet_id)}
    for trace in marc.traces:
        assert trace not in str(export)
    by_address = await _get(notification, "/v1/privacy/export", stack.auth("admin"), email=lea.email.upper())
    assert {m["template"] for m in by_address["messages"]} == set(mine) and by_address["email"] == lea.email

    figures = await _get(notification, "/v1/stats", stack.auth("admin"), campaign_id=campaign_id)
    assert figures["messages"] == 5 and figures["by_state"] == {"sent": 5}
    assert figures["by_template"]["wallet_ready"] == {"sent": 2}

    # Léa's family asks to be erased
    await stack.publish(ev.GuardianErasureRequested(
        erasure_id=_id("erasure"), application_ids=[lea.application_id], wallet_ids=[lea.wallet_id],
        family_subs=[lea.sub], campaign_ids=[campaign_id], requested_at=NOW,
    ))
    await poll_database(database, "SELECT count(*) = 0 FROM wallets WHERE wallet_id = $1", lea.wallet_id)
    stored = await _stored_text(database)
    for trace in lea.traces:
        assert trace not in stored, f"{trace} still stored after the erasure"
    assert marc.email in stored and marc.first_name in stored
    assert (await _get(notification, "/v1/privacy/export", stack.auth("family", sub=lea.sub)))["messages"] == []

    # the campaign's purge
    await stack.publish(ev.CampaignPurgeStarted(campaign_id=campaign_id, purge_id=_id("purge"), purge_before=NOW,
                                                announced_at=NOW))
    await poll_database(database, "SELECT count(*) = 0 FROM messages WHERE campaign_id = $1 AND forgotten_at IS NULL",
                        campaign_id)
    stored = await _stored_text(database)
    for trace in (*lea.traces, *marc.traces, correspondent):
        assert trace not in stored, f"{trace} still stored after the purge"
    assert await _get(notification, "/v1/stats", stack.auth("admin"), campaign_id=campaign_id) == figures
    log = await _get(notification, "/v1/messages", stack.auth("admin"), limit=500)
    kept = [m for m in log["messages"] if m["campaign_id"] == campaign_id]
    assert len(kept) == 5 and all(m["recipient"] is None and m["body"] is None for m in kept)
    assert "Pass Hauts-de-Seine : inscription de [effacé] [effacé] bien reçue" in {m["subject"] for m in kept}
