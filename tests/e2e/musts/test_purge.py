"""Issue 13, must show: a season on the real stack, then its purge with the clock past the retention
(the campaign made past due through the API): once every service has applied CampaignPurgeStarted and
truncated its topics, a scan of every database, every topic still holding data and every service log
finds none of that season's names, birth dates, e-mails, phones or addresses; the figures (each
service's `GET /v1/stats`, `carnet report`) are the same as before the purge."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import pytest

from carnet_contracts import topics
from carnet_local.config import SERVICES
from carnet_local.season import iban_for, paris_today
from carnet_local.report import gather

from .driver import Carnet, Play, Pupil
from .scan import scan_database, scan_logs, scan_records, topic_records

pytestmark = pytest.mark.integration

# The département's records of its payments, which the affiliation's inventory keeps past the purge
# (public accounting, 10 years: services/affiliation/privacy.toml): the IBAN a batch paid stays there.
ACCOUNTING = {"affiliation.batch_transfers", "affiliation.reimbursement_batches",
              "affiliation.reimbursement_batches.sepa_xml", "affiliation.reimbursement_batches.transfers_csv"}
# Each service's figures of a campaign (the redemption service has none: API.md, Figures).
FIGURES = ("enrolment", "wallet", "affiliation", "notification")


async def season(play: Play) -> tuple[list[Pupil], list[dict[str, str]], str]:
    """Online and paper families in two schools: validated by a roster import (with a pupil who never
    applied) or one by one, one rejected, one still waiting; tickets credited, e-mailed, replaced,
    voided, redeemed; a batch paid, then the organisation's IBAN changed; the correspondents' digests
    sent. Returns the families, the pupils only on the roster, and the IBAN the season paid."""
    first, second = play.schools
    online = [await play.apply(first) for _ in range(3)]
    paper = await play.apply(second, paper=True)
    rejected, waiting = await play.apply(second), await play.apply(second)
    never_applied = play.form(first)["student"]
    await play.roster(first, online, never_applied)
    await play.validate(paper)
    await play.call("POST", "enrolment", f"/v1/applications/{rejected.application_id}/reject",
                    json={"reason": "Élève inconnu du collège"}, headers=play.correspondent(second))
    granted = [*online, paper]
    for pupil in granted:
        await play.wallet_ready(pupil)
        await play.credit(pupil, 1000, 2000, 500)
    await play.redemption_ready()
    for pupil in granted[:3]:
        await play.redeemed(pupil.tickets[0]["code"])
    lost = granted[3].tickets[1]
    await play.call("POST", "wallet", f"/v1/wallets/{paper.wallet_id}/tickets/{lost['ticket_id']}/replace",
                    headers=paper.actor, expect=(202,))
    await play.call("POST", "wallet", f"/v1/wallets/{online[0].wallet_id}/tickets/{online[0].tickets[2]['ticket_id']}/void",
                    headers=online[0].actor, expect=(202,))
    await play.call("POST", "wallet", f"/v1/wallets/{online[1].wallet_id}/tickets/email", headers=online[1].actor,
                    expect=(202,))
    await play.statement_holds(play.affiliates[0], 3)
    made = await play.batch()
    await play.call("POST", "affiliation", f"/v1/reimbursement-batches/{made['batch_id']}/paid", headers=play.admin)
    [paid_to] = await play.sepa_ibans(made["batch_id"])
    await play.change_iban(play.affiliates[0], iban_for(random.Random(f"{play.season.run_id}-next-season")))
    await play.call("POST", "enrolment", "/v1/correspondent-digests", params={"force": "true"}, headers=play.admin,
                    expect=(202,))
    await play.ticket_status(paper, lost["ticket_id"], "credited")
    await play.carnet.mail.wait(f"correspondant.{second}@example.org", "votre validation")
    await play.carnet.mail.wait(online[1].email, "en pièce jointe")
    return [*granted, rejected, waiting], [never_applied], paid_to


async def figures(play: Play) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for service in FIGURES:
        found[service] = (await play.call("GET", service, "/v1/stats", params={"campaign_id": play.campaign_id},
                                          headers=play.admin)).json()
    found["report"] = await gather(play.carnet.endpoints, play.admin, play.campaign_id)
    return found


def personal(pupils: list[Pupil], roster_only: list[dict[str, str]]) -> list[str]:
    values = [v for p in pupils for v in p.personal]
    for student in roster_only:
        values += [student["last_name"], student["first_name"], student["birth_date"]]
    return values


async def test_after_the_purge_no_database_topic_or_log_holds_the_seasons_personal_data_and_the_figures_are_unchanged(
        carnet: Carnet):
    async with carnet.play(schools=2, affiliates=0) as other:
        neighbour = await other.granted(other.schools[0])   # another campaign's family: not purged
    today = paris_today()
    # the season's enrolment opened last of all the campaigns open today: the rosters imported today are its own
    async with carnet.play(schools=2, affiliates=1, redemption_cancel_grace_minutes=0,
                           enrolment_opens=(today - timedelta(days=7)).isoformat()) as play:
        pupils, roster_only, old_iban = await season(play)
        needles = personal(pupils, roster_only)
        play.season.campaign = play.campaign | {
            "enrolment_opens": (today - timedelta(days=400)).isoformat(),
            "enrolment_closes": (today - timedelta(days=300)).isoformat(),
            "pass_valid_until": (today - timedelta(days=60)).isoformat(),
            "reimbursement_deadline": (today - timedelta(days=1)).isoformat(),
            "data_retention_days": 0,
        }
        await play.call("PUT", "enrolment", f"/v1/campaigns/{play.campaign_id}", json=play.campaign, headers=play.admin)
        await play.settled()
        before = await figures(play)
        found = [f for s in SERVICES for f in await scan_database(s, carnet.database(s), needles)]
        found += scan_records(await topic_records(carnet.stack.kafka_bootstrap, carnet.topics()), needles)
        assert {f.where.split(".")[0] for f in found} >= {"enrolment", "wallet", "notification"}, \
            "before the purge, the scan finds the season"
        assert {f.where for f in found if f.where.startswith("topic ")} >= \
            {f"topic {carnet.topic(t)}" for t in (topics.ENROLMENT_APPLICATIONS, topics.WALLET_WALLETS)}, \
            "before the purge, the season is on its topics"

        purge = (await play.call("POST", "enrolment", f"/v1/campaigns/{play.campaign_id}/purge", headers=play.admin,
                                 expect=(202,))).json()
        await play.settled()
        for service in SERVICES:
            await play.until(f"the {service} service's Kafka share of the purge", lambda s=service: truncated(carnet, s, purge))

        traces = [f for s in SERVICES for f in await scan_database(s, carnet.database(s), needles)]
        records = await topic_records(carnet.stack.kafka_bootstrap, carnet.topics())
        traces += scan_records(records, needles)
        traces += scan_logs(carnet.logs(), needles)
        assert traces == [], f"{len(traces)} traces of the season:\n" + "\n".join(map(str, traces[:40]))
        ibans = [f for s in SERVICES for f in await scan_database(s, carnet.database(s), [old_iban])]
        ibans += scan_records(records, [old_iban]) + scan_logs(carnet.logs(), [old_iban])
        assert {f.where for f in ibans} <= ACCOUNTING, "\n".join(map(str, ibans))
        kept = [f for s in SERVICES for f in await scan_database(s, carnet.database(s), neighbour.personal)]
        assert {f.where.split(".")[0] for f in kept} >= {"enrolment", "wallet"}, "another campaign's family is kept"

        after = await figures(play)
        for name in before:
            assert after[name] == before[name], name
        held = {t: len(r) for t, r in records.items() if r}
        assert any("CampaignPurgeStarted" in r for r in records[carnet.topic(topics.ENROLMENT_CAMPAIGNS)]), \
            "what came after the purge's start is still read"
        print(f"\n  purge {purge['purge_id'][:8]} ({purge['applications_anonymised']} applications anonymised, "
              f"{purge['roster_entries_deleted']} roster lines deleted): none of the season's {len(needles)} personal "
              f"values in the 5 databases, {sum(held.values())} records still on {len(held)} topics, nor the logs; "
              f"figures of {', '.join(before)} unchanged; the IBAN the season paid (…{old_iban[-4:]}, since changed) "
              f"only in the accounting records kept on purpose: {sorted({f.where for f in ibans})}")


async def truncated(carnet: Carnet, service: str, purge: dict[str, Any]) -> bool:
    rows = await carnet.query(service, "SELECT done_at FROM kafka_purges WHERE purge_id = $1::text", purge["purge_id"])
    return bool(rows) and rows[0]["done_at"] is not None
