"""The committed money as of a day, the campaign's purge (figures the same before and after), a
guardian's erasure, the family's export and the expiry reminder, on the real stack."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest

from carnet_contracts.calendar import paris_day
from carnet_contracts.events import CampaignPurgeStarted, GuardianErasureRequested, TicketRedeemed
from carnet_contracts.topics import WALLET_WALLETS

from .conftest import code_forms, credit_tickets

pytestmark = pytest.mark.integration


async def test_the_campaigns_commitments_as_of_a_day_and_the_same_figures_after_its_purge(stack, wallet, feed):
    process, _ = wallet
    admin = stack.auth("admin")
    ends = date(2099, 3, 31)
    online = feed.pass_granted(valid_until=ends, email=f"purge.{uuid.uuid4().hex[:6]}@example.org")
    paper = feed.pass_granted(paper=True, valid_until=ends, first_name="Hugo")
    w_online, w_paper = await feed.wallet_of(online), await feed.wallet_of(paper)
    family, corr = stack.auth("family", sub=online.family_sub), stack.auth("correspondent", school_id=paper.school_id)
    async with httpx.AsyncClient(base_url=process.url, timeout=30) as client:
        ids, codes = await credit_tickets(client, w_online, family, [1000, 2000, 3000])
        _, paper_codes = await credit_tickets(client, w_paper, corr, [500])
        redeemed_at = datetime.now(UTC)
        await stack.publish(TicketRedeemed(redemption_id=str(uuid.uuid4()), ticket_id=ids[1], wallet_id=w_online,
                                           campaign_id=feed.campaign_id, affiliate_id="aff-1", amount_cents=2000,
                                           code_suffix=codes[1][-4:], redeemed_at=redeemed_at))
        await feed.until("SELECT status = 'redeemed' FROM tickets WHERE ticket_id = $1::uuid", ids[1])
        assert (await client.post(f"/v1/wallets/{w_online}/tickets/email", headers=family)).status_code == 202

        async def figures(as_of: date | None = None) -> dict:
            params = {"campaign_id": feed.campaign_id} | ({"as_of": as_of.isoformat()} if as_of else {})
            answer = await client.get("/v1/stats", headers=admin, params=params)
            assert answer.status_code == 200, answer.text
            return answer.json()

        today = paris_day(datetime.now(UTC))
        now = await figures()
        assert now["as_of"] == today.isoformat()
        assert (now["outstanding_cents"], now["outstanding_tickets"]) == (4500, 3)
        assert (now["redeemed_cents"], now["redeemed_tickets"], now["expired_unspent_cents"]) == (2000, 1, 0)
        assert now["outstanding_by_valid_until"] == [{"valid_until": "2099-03-31", "cents": 4500, "tickets": 3}]
        assert now["credited_cents"] == now["credited_as_of_cents"] == 6500
        yesterday = await figures(today - timedelta(days=1))
        assert (yesterday["credited_as_of_cents"], yesterday["redeemed_cents"]) == (0, 0), "nothing credited yet"
        after_the_end = await figures(date(2099, 4, 1))
        assert (after_the_end["outstanding_cents"], after_the_end["expired_unspent_cents"],
                after_the_end["redeemed_cents"]) == (0, 4500, 2000)
        assert (await client.get("/v1/stats", headers=admin, params={"as_of": "demain"})).status_code == 422

        before = [await figures(), await figures(date(2099, 4, 1))]
        # The runtime forgets the campaign's sent outbox rows: wait until the relay has sent them all.
        await feed.until("SELECT bool_and(state = 'sent') FROM outbox WHERE envelope->>'campaign_id' = $1",
                         feed.campaign_id)
        # The purge's Kafka share deletes nothing here: records older than 2000 (the shared broker's are newer).
        await stack.publish(CampaignPurgeStarted(campaign_id=feed.campaign_id, purge_id=str(uuid.uuid4()),
                                                 purge_before=datetime(2000, 1, 1, tzinfo=UTC),
                                                 announced_at=datetime.now(UTC)))
        await feed.until("SELECT bool_and(anonymised_at IS NOT NULL) FROM wallets WHERE campaign_id = $1",
                         feed.campaign_id)
        assert [await figures(), await figures(date(2099, 4, 1))] == before
        gone = (await client.get(f"/v1/wallets/{w_online}", headers=admin)).json()
        assert gone["student"]["first_name"] == "" and gone["credited_cents"] == 6000
        assert [t["status"] for t in gone["tickets"][:3]] == ["credited", "redeemed", "credited"]
        assert (await client.get(f"/v1/wallets/{w_online}", headers=family)).status_code == 404
        refused = await client.post(f"/v1/wallets/{w_paper}/tickets/email", headers=corr)
        assert (refused.status_code, refused.json()["error"]["code"]) == (409, "WALLET_ERASED")
    rows = await feed.fetch(
        """
        SELECT w.student_first_name, w.student_last_name, w.guardian_email, w.owner_sub,
               (SELECT count(*) FROM tickets t WHERE t.wallet_id = w.wallet_id AND t.code_ciphertext IS NOT NULL) AS codes,
               (SELECT count(*) FROM sheet_snapshots s WHERE s.wallet_id = w.wallet_id) AS snapshots,
               (SELECT count(*) FROM acts a WHERE a.wallet_id = w.wallet_id AND a.actor_sub IS NOT NULL) AS subs
        FROM wallets w WHERE w.campaign_id = $1
        """, feed.campaign_id)
    assert [tuple(r) for r in rows] == [("", "", "", None, 0, 0, 0)] * 2
    dump = await feed.dump()
    assert online.guardian.email not in dump and online.family_sub not in dump
    assert all(form not in dump for code in [*codes, *paper_codes] for form in code_forms(code))


async def test_a_guardians_erasure_anonymises_their_wallets_and_forgets_their_sent_events(stack, wallet, feed):
    process, _ = wallet
    email = f"efface.{uuid.uuid4().hex[:6]}@example.org"
    erased, kept = feed.pass_granted(email=email, first_name="Zoé"), feed.pass_granted()
    w_erased, w_kept = await feed.wallet_of(erased), await feed.wallet_of(kept)
    family = stack.auth("family", sub=erased.family_sub)
    async with httpx.AsyncClient(base_url=process.url, timeout=30) as client:
        await credit_tickets(client, w_erased, family, [1000])
        export = await client.get("/v1/privacy/export", headers=family)
        assert export.status_code == 200 and [w["wallet_id"] for w in export.json()["wallets"]] == [w_erased]
        assert export.json()["wallets"][0]["guardian_email"] == email
        ticket_ids = [r["ticket_id"] for r in await feed.fetch(
            "SELECT ticket_id::text FROM tickets WHERE wallet_id = $1::uuid", w_erased)]
        # Only sent rows are forgotten (a pending one is still to be published): wait until all are sent.
        await feed.until("SELECT count(*) >= 2 AND bool_and(state = 'sent') FROM outbox "
                         "WHERE message_key = ANY($1::text[])", [w_erased, *ticket_ids])
        await stack.publish(GuardianErasureRequested(
            erasure_id=str(uuid.uuid4()), application_ids=[erased.application_id], wallet_ids=[],
            family_subs=[erased.family_sub], campaign_ids=[feed.campaign_id], requested_at=datetime.now(UTC)))
        await feed.until("SELECT anonymised_at IS NOT NULL FROM wallets WHERE wallet_id = $1::uuid", w_erased)
        after = await client.get("/v1/privacy/export", headers=stack.auth("admin"), params={"email": email})
        assert after.status_code == 200 and after.json()["wallets"] == []
        assert (await client.get(f"/v1/wallets/{w_erased}", headers=stack.auth("admin"))).json()["credited_cents"] == 1000
    assert await feed.fetchval("SELECT count(*) FROM outbox WHERE state = 'sent' AND message_key = ANY($1::text[])",
                               [w_erased, *ticket_ids]) == 0
    assert await feed.fetchval("SELECT count(*) FROM outbox WHERE message_key = $1", w_kept) >= 1
    dump = await feed.dump()
    assert email not in dump and "Zoé" not in dump


async def test_one_expiry_reminder_per_wallet_while_money_is_left(stack, wallet, feed):
    soon = paris_day(datetime.now(UTC)) + timedelta(days=5)
    nothing_left = feed.pass_granted(valid_until=soon, allowance_cents=0)
    first, second = feed.pass_granted(valid_until=soon), feed.pass_granted(valid_until=soon)
    w_nothing = await feed.wallet_of(nothing_left)
    w_first = await feed.wallet_of(first)

    def reminders(found, wallet_id):
        return [m for m in found if m["event_type"] == "PassExpiryReminderDue" and m["data"]["wallet_id"] == wallet_id]

    [reminder] = reminders(await stack.events(WALLET_WALLETS.name, timeout=60,
                                              until=lambda found: bool(reminders(found, w_first))), w_first)
    assert (reminder["data"]["remaining_cents"], reminder["data"]["credited_unspent_cents"]) == (7000, 0)
    assert reminder["data"]["valid_until"] == soon.isoformat()
    # A wallet created after the first was reminded: once it is reminded, later runs have seen the first
    # wallet (and the one with nothing left) again.
    w_second = await feed.wallet_of(second)
    found = await stack.events(WALLET_WALLETS.name, timeout=60, until=lambda found: bool(reminders(found, w_second)))
    assert len(reminders(found, w_first)) == 1 and reminders(found, w_nothing) == []
    assert await feed.fetchval("SELECT expiry_reminded_at IS NULL FROM wallets WHERE wallet_id = $1::uuid", w_nothing)


async def test_the_inventory_classifies_every_column_of_every_table_once(wallet):
    import tomllib
    from pathlib import Path

    _, feed = wallet
    inventory = tomllib.loads((Path(__file__).resolve().parents[2] / "privacy.toml").read_text(encoding="utf-8"))
    columns = await feed.fetch("SELECT table_name, column_name FROM information_schema.columns "
                               "WHERE table_schema = 'public' ORDER BY table_name, ordinal_position")
    in_database = {(c["table_name"], c["column_name"]) for c in columns}
    classified = [(table, column) for table, entry in inventory["tables"].items()
                  for column in entry["personal"] + entry["not_personal"]]
    assert len(classified) == len(set(classified)), "a column is classified twice"
    assert sorted(in_database - set(classified)) == [] and sorted(set(classified) - in_database) == []
    for table, entry in inventory["tables"].items():
        assert entry["purpose"] and entry["retention"]
        assert set(entry["personal"]) == set(entry.get("why", {})), f"{table}: every personal column says why"
