"""A whole campaign season on the real stack: the five services as their own processes, each with its
own database, on the session's Kafka and PostgreSQL, driven by the code of `carnet demo`.

Money is conserved from the allowance to the affiliates' bank accounts: every ticket's state in
each service is the one the driver's own ledger (what it credited, voided, replaced, redeemed,
cancelled) says, every figure of `carnet report` (the committed budget as of today included: every
cent credited in exactly one of outstanding, expired unspent, pending, in payment, reimbursed) is found
again by adding up the services' own tables, and the same
season played while each service in turn is killed (SIGKILL) at a moment it has work in flight (events
it has not committed, outbox rows it has not published, requests it has not answered: measured at
each kill and asserted) ends with the same figures.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

import asyncpg
import pytest

from carnet_contracts import events as ev
from carnet_local.endpoints import Endpoints
from carnet_local.season import Season, SeasonOutcome, SeasonSize
from carnet_local.processes import free_port
from carnet_local.report import NEW_AFFILIATE_LEAD, gather
from carnet_local.smtp import start_capture
from carnet_local.testing import GroupLag, ServiceProcess

pytestmark = pytest.mark.integration

SMALL = SeasonSize(families=26, schools=2, affiliates=3, seed=7)


@dataclass
class Stack:
    services: dict[str, ServiceProcess]
    endpoints: Endpoints

    def database(self, name: str) -> str:
        return self.services[name].env[f"CARNET_{name.upper()}_DATABASE_URL"]


def start_system(stack, mail_dir, smtp_port: int) -> Stack:
    """The five services, each its own process and database; the notification service sends to the
    SMTP capture on `smtp_port` (one .eml file per e-mail) and fetches ticket sheets from this wallet."""
    services = stack.five_services(smtp_port=smtp_port)
    return Stack(services.processes, Endpoints(**services.urls, keys_dir=stack.keys_dir, mail_dir=mail_dir,
                                               kafka_bootstrap=stack.kafka_bootstrap))


def stop_system(services: dict[str, ServiceProcess]) -> None:
    for service in services.values():
        service.stop()


@pytest.fixture
def system(stack, smtp_capture) -> Iterator[Stack]:
    started = start_system(stack, smtp_capture.directory, smtp_capture.port)
    try:
        yield started
    finally:
        stop_system(started.services)


@dataclass
class Played:
    outcome: SeasonOutcome
    report: dict
    db: dict


@pytest.fixture(scope="module")
async def undisturbed(stack, tmp_path_factory) -> Played:
    """The season played once on services of its own, nobody killed: its figures, and the services'
    tables added up. The services are stopped before the fixture returns (a later system of this
    module consumes as the same groups)."""
    mail_dir, port = tmp_path_factory.mktemp("mail"), free_port()
    capture = start_capture(mail_dir, port)
    started = await asyncio.to_thread(start_system, stack, mail_dir, port)
    try:
        outcome, report = await play(stack, started)
        db = await recomputed(started, outcome.campaign_id, report["campaign"]["enrolment_opens"])
    finally:
        await asyncio.to_thread(stop_system, started.services)
        capture.stop()
    return Played(outcome, report, db)


def admin(stack) -> dict[str, str]:
    return stack.auth("admin", sub="admin-e2e")


async def play(stack, system: Stack, season: Season | None = None) -> tuple[SeasonOutcome, dict]:
    outcome = await (season or Season(system.endpoints, SMALL, timeout=90)).run()
    report = await gather(system.endpoints, admin(stack), outcome.campaign_id)
    return outcome, report


async def recomputed(system: Stack, campaign_id: str, enrolment_opens: str) -> dict:
    """The report's figures added up from the services' own tables."""
    async def query(name: str, sql: str, *args):
        conn = await asyncpg.connect(system.database(name))
        try:
            return await conn.fetch(sql, *args)
        finally:
            await conn.close()

    applications = {r["status"]: r["n"] for r in await query(
        "enrolment", "SELECT status, count(*) AS n FROM applications WHERE campaign_id = $1 GROUP BY status", campaign_id)}
    [wallet] = await query("wallet", """
        SELECT count(DISTINCT w.wallet_id) AS wallets,
               (SELECT coalesce(sum(allowance_cents), 0) FROM wallets WHERE campaign_id = $1) AS allowance,
               coalesce(sum(t.amount_cents) FILTER (WHERE t.status IN ('credited', 'redeemed', 'void_pending',
                                                                         'replace_pending')), 0) AS credited,
               coalesce(sum(t.amount_cents) FILTER (WHERE t.status IN ('credited', 'void_pending',
                                                                         'replace_pending')), 0) AS unspent,
               coalesce(sum(t.amount_cents) FILTER (WHERE t.status = 'redeemed'), 0) AS redeemed,
               count(*) FILTER (WHERE t.status = 'blank' AND t.amount_cents IS NOT NULL) AS blank_holding
        FROM wallets w JOIN tickets t USING (wallet_id) WHERE w.campaign_id = $1""", campaign_id)
    [redemption] = await query("redemption", """
        SELECT count(*) AS tickets, coalesce(sum(amount_cents), 0) AS cents, count(DISTINCT wallet_id) AS students
        FROM redemptions WHERE campaign_id = $1 AND status = 'active'""", campaign_id)
    amounts = [(r["amount_cents"], r["n"]) for r in await query("redemption", """
        SELECT amount_cents, count(*) AS n FROM redemptions WHERE campaign_id = $1 AND status = 'active'
        GROUP BY amount_cents ORDER BY n DESC, amount_cents DESC LIMIT 3""", campaign_id)]
    lines = {r["status"]: r["cents"] for r in await query("affiliation", """
        SELECT status, sum(amount_cents) AS cents FROM statement_lines WHERE campaign_id = $1 GROUP BY status""",
        campaign_id)}
    since = date.fromisoformat(enrolment_opens) - NEW_AFFILIATE_LEAD
    [affiliates] = await query("affiliation", """
        SELECT count(*) FILTER (WHERE status = 'active') AS active,
               count(*) FILTER (WHERE status IN ('active', 'suspended')
                                AND (created_at AT TIME ZONE 'Europe/Paris')::date >= $1) AS new
        FROM affiliates""", since)
    [batches] = await query("affiliation", """
        SELECT coalesce(sum(total_cents) FILTER (WHERE status = 'paid'), 0) AS paid, count(*) AS n
        FROM reimbursement_batches WHERE campaign_id = $1""", campaign_id)
    # and item by item, to hold against the driver's ledger
    tickets = {r["ticket_id"]: (r["status"], r["amount_cents"]) for r in await query("wallet", """
        SELECT t.ticket_id::text, t.status, t.amount_cents FROM tickets t JOIN wallets w USING (wallet_id)
        WHERE w.campaign_id = $1 AND t.status <> 'blank'""", campaign_id)}
    redemptions = {r["redemption_id"]: (r["ticket_id"], r["status"], r["amount_cents"], r["cancelled_by_role"])
                   for r in await query("redemption", """
        SELECT redemption_id::text, ticket_id, status, amount_cents, cancelled_by_role FROM redemptions
        WHERE campaign_id = $1""", campaign_id)}
    statement_lines = {r["redemption_id"]: (r["status"], r["amount_cents"]) for r in await query("affiliation", """
        SELECT redemption_id, status, amount_cents FROM statement_lines WHERE campaign_id = $1""", campaign_id)}
    return {
        "applications": applications, "wallet": dict(wallet), "redemption": dict(redemption), "amounts": amounts,
        "lines": lines, "affiliates": dict(affiliates), "batches": dict(batches),
        "tickets": tickets, "redemptions": redemptions, "statement_lines": statement_lines,
    }


def check_conservation_and_figures(outcome: SeasonOutcome, report: dict, db: dict) -> None:
    w, r, lines, ledger = db["wallet"], db["redemption"], db["lines"], outcome.ledger
    # each service holds, ticket by ticket and redemption by redemption, what the driver's ledger says
    assert ledger.credits and ledger.voids and ledger.replaced and ledger.after_batch, "the season did it all"
    by_whom = Counter(ledger.cancelled.values())
    assert by_whom["admin"] == 2 and by_whom["affiliate"] > 0, ledger.cancelled
    assert db["tickets"] == ledger.ticket_statuses(), "the wallet's tickets"
    assert db["redemptions"] == ledger.redemption_statuses(), "the redemption service's redemptions"
    assert db["statement_lines"] == ledger.statement_lines(), "the affiliates' statement lines"
    # money is conserved: from the allowance to the wallets, to the counters, to the bank transfers,
    # each service's own sums against the ledger's
    assert w["allowance"] == ledger.allowance_cents
    assert w["credited"] == ledger.credited_cents and w["blank_holding"] == 0  # a voided ticket holds nothing
    assert w["redeemed"] == r["cents"] == sum(lines.get(s, 0) for s in ("pending", "batched", "paid")) == ledger.redeemed_cents
    assert lines.get("paid", 0) == db["batches"]["paid"] == ledger.paid_cents
    assert lines.get("pending", 0) == ledger.pending_cents and lines.get("batched", 0) == 0
    assert report["remaining_cents"] == ledger.allowance_cents - ledger.credited_cents
    assert report["redeemed_at_affiliates_cents"] == ledger.redeemed_cents
    assert (report["reimbursed_cents"], report["in_payment_cents"], report["pending_cents"]) == (
        ledger.paid_cents, 0, ledger.pending_cents)

    # each figure of the report is the sum recomputed from the services' data
    apps = db["applications"]
    assert report["applications"]["total"] == sum(apps.values())
    assert report["applications"]["rejected"] == apps.get("rejected", 0)
    assert report["passes_granted"] == apps.get("validated", 0) + apps.get("wallet_ready", 0)
    assert report["wallets"] == w["wallets"] == apps.get("wallet_ready", 0)
    assert report["allowance_granted_cents"] == w["allowance"]
    assert report["credited_cents"] == w["credited"]
    assert report["remaining_cents"] == w["allowance"] - w["credited"]
    c = report["committed"]
    assert c["credited_cents"] == w["credited"] == ledger.credited_cents
    assert c["outstanding_cents"] == w["unspent"] == ledger.outstanding_cents and c["expired_unspent_cents"] == 0
    assert c["redeemed_cents"] == w["redeemed"]
    assert (c["pending_cents"], c["in_payment_cents"], c["reimbursed_cents"]) == (
        lines.get("pending", 0), lines.get("batched", 0), lines.get("paid", 0))
    assert c["five_parts"] and c["holds"], c["checks"]
    assert c["credited_cents"] == (c["outstanding_cents"] + c["expired_unspent_cents"] + c["pending_cents"]
                                   + c["in_payment_cents"] + c["reimbursed_cents"])
    assert c["outstanding_by_valid_until"] == [{"valid_until": report["campaign"]["pass_valid_until"],
                                                "cents": c["outstanding_cents"], "tickets": c["outstanding_tickets"]}]
    assert report["cancelled_cents"] == lines.get("cancelled", 0)
    assert report["consumed_cents"] == r["cents"]
    assert report["tickets_redeemed"] == r["tickets"]
    assert report["students_who_used_their_pass"] == r["students"]
    assert [(m["amount_cents"], m["tickets"]) for m in report["most_used_amounts"]] == db["amounts"]
    assert report["reimbursed_cents"] == lines.get("paid", 0) == db["batches"]["paid"]
    assert report["in_payment_cents"] == lines.get("batched", 0)
    assert report["pending_cents"] == lines.get("pending", 0)
    assert report["affiliates"] == db["affiliates"]["active"]
    assert report["new_affiliates"] == db["affiliates"]["new"]

    # and they are what the season did
    assert report["applications"]["total"] == outcome.submitted
    assert report["passes_granted"] == outcome.validated
    assert report["applications"]["rejected"] == outcome.rejected
    assert report["tickets_redeemed"] == outcome.redeemed_tickets
    assert report["consumed_cents"] == outcome.redeemed_cents
    assert report["students_who_used_their_pass"] == outcome.students_who_used == ledger.students_who_used
    assert report["reimbursed_cents"] == outcome.reimbursed_cents
    assert report["pending_cents"] == outcome.pending_cents
    assert report["affiliates"] == report["new_affiliates"] == outcome.affiliates
    assert report["wallets"] == outcome.wallets and report["allowance_granted_cents"] == outcome.allowance_cents
    assert report["credited_tickets"] == outcome.credited_tickets - outcome.voided_tickets  # a voided ticket is blank
    assert report["credited_cents"] == outcome.credited_cents - outcome.voided_cents
    assert all(outcome.redeemed_by_amount[m["amount_cents"]] == m["tickets"] for m in report["most_used_amounts"])
    assert set(outcome.refused) == {"NOT_RESIDENT", "ENROLMENT_CLOSED", "DUPLICATE_APPLICATION"}
    assert len(outcome.counter_mistakes) == 4
    # and what this round added: a paper family its school credits and prints for, a voided ticket
    # blank again and credited again with a new code, a lost ticket replaced, the old codes refused,
    # two redemptions the admin cancelled late (one ticket redeemable again, one voided)
    assert (outcome.paper_applications, outcome.school_sheets, outcome.replaced_tickets) == (1, 1, 1)
    assert outcome.credited_again > 0
    assert outcome.old_codes_refused == {"TICKET_VOIDED": 1, "TICKET_REPLACED": 1}
    assert outcome.late_cancellations == {"redeemable": 1, "void": 1}


def comparable(report: dict) -> dict:
    """The figures of a season, without what names the run or depends on the clock."""
    kept = {k: v for k, v in report.items()
            if k not in ("campaign", "validation_delay", "waiting", "schools", "by_affiliate")}
    kept["within_promise_ratio"] = report["validation_delay"]["within_promise_ratio"]
    return kept


async def test_a_season_conserves_money_and_the_report_adds_up_from_each_services_data(undisturbed):
    check_conservation_and_figures(undisturbed.outcome, undisturbed.report, undisturbed.db)
    report = undisturbed.report
    assert report["tickets_redeemed"] > 0 and report["pending_cents"] > 0 and report["reimbursed_cents"] > 0


# What each service consumes: its backlog at a kill is its lag on these topics.
CONSUMES = {
    "enrolment": (ev.WalletCreated,),
    "wallet": (ev.CampaignPublished, ev.PassGranted, ev.AffiliateActivated, ev.TicketRedeemed),
    "redemption": (ev.CampaignPublished, ev.TicketCredited, ev.AffiliateActivated, ev.ReimbursementBatchCreated),
    "affiliation": (ev.CampaignPublished, ev.TicketCredited, ev.TicketRedeemed),
    "notification": (ev.CampaignPublished, ev.SchoolRegistered, ev.ApplicationSubmitted, ev.WalletCreated,
                     ev.AffiliateInvited, ev.ReimbursementBatchPaid),
}


class Crashes:
    """Kills a service (SIGKILL) at a moment it has work in flight, and says what work the kill met.

    At the moment chosen, the service is frozen at once (SIGSTOP: nothing it holds can move on, so
    its backlog can only grow); its backlog is then measured: its consumer lag on what it consumes,
    the pending rows of its outbox, the requests the driver sent it and has no answer to. Once that
    backlog is not empty (events on their way to it arrive while it is frozen), it is killed; if it
    stays empty for `timeout`, the service is let go on and the kill is recorded as having met
    nothing (the test then fails). It restarts 2 s after the kill, as an orchestrator would.
    """

    def __init__(self, stack, system: Stack, season: Season):
        self.stack, self.system, self.season = stack, system, season
        self.kills: list[dict] = []
        self.watching: dict[str, asyncio.Task] = {}
        self.restarts: dict[str, asyncio.Task] = {}

    async def _outbox_pending(self, name: str) -> int:
        conn = await asyncpg.connect(self.system.database(name))
        try:
            return await conn.fetchval("SELECT count(*) FROM outbox WHERE state = 'pending'")
        finally:
            await conn.close()

    async def _work(self, name: str, lag: GroupLag) -> dict:
        return {"lag": await lag.now(), "outbox": await self._outbox_pending(name),
                "requests": self.season.in_flight[name]}

    async def kill_when_busy(self, name: str, moment: str, *, kinds: tuple[str, ...] = ("lag", "outbox", "requests"),
                             timeout: float = 30.0) -> None:
        if name in self.restarts:
            await self.restarts[name]  # one crash of a service at a time
        service = self.system.services[name]
        service.pause()
        topics = sorted({event.topic.name for event in CONSUMES[name]})
        frozen = {"lag": 0, "outbox": 0, "requests": 0}
        try:
            async with GroupLag(self.stack.kafka_bootstrap, service.consumer_group, topics) as lag:
                deadline = time.monotonic() + timeout
                while time.monotonic() < deadline:
                    await asyncio.sleep(0.05)  # what was on the wire when it froze lands
                    frozen = await self._work(name, lag)
                    if sum(frozen[kind] for kind in kinds):
                        service.kill()
                        break
        finally:
            if service.process is not None:
                service.resume()  # nothing in flight came: it goes on (and the test fails below)
        self.kills.append({"service": name, "moment": moment, **frozen})
        if service.process is None:
            self.restarts[name] = asyncio.create_task(self._restart(service))

    async def _restart(self, service: ServiceProcess) -> None:
        await asyncio.sleep(2)
        await asyncio.to_thread(service.start, timeout=120)

    def watch(self, name: str, moment: str) -> None:
        """Freeze `name` now and kill it once busy, while the season goes on."""
        self.watching[name] = asyncio.create_task(self.kill_when_busy(name, moment))

    async def settled(self, *names: str) -> None:
        for name in names:
            await self.watching.pop(name)

    async def finished(self) -> None:
        await asyncio.gather(*self.watching.values())
        await asyncio.gather(*self.restarts.values())


@pytest.mark.timeout(900)  # alone, it plays the undisturbed season first (its baseline), then its own
async def test_the_same_season_with_each_service_killed_and_restarted_in_turn_ends_with_the_same_figures(
    stack, system, undisturbed
):
    season = Season(system.endpoints, SMALL, timeout=90)
    crashes = Crashes(stack, system, season)

    # Each service is killed at a moment its work is in flight, and never while the driver sends it a
    # request it would not send again (only reads, or requests with an Idempotency-Key).
    async def after_phase(moment: str) -> None:
        if moment == "publish":  # the schools just registered are on their way to it
            await crashes.kill_when_busy("notification", moment)
        elif moment == "validate":  # passes just granted: wallets being created, WalletCreated to apply
            crashes.watch("enrolment", moment)
        elif moment == "wallets":
            await crashes.settled("enrolment")
        elif moment == "credit":  # the tickets just credited are on their way to it
            crashes.watch("redemption", moment)
        elif moment == "redeem-midway":  # half the counters' requests answered, the others in flight,
            await crashes.settled("redemption")  # and the redemptions streaming to the wallets
            await asyncio.gather(crashes.kill_when_busy("redemption", moment, kinds=("requests",)),
                                 crashes.kill_when_busy("wallet", moment))
        elif moment == "redeem":  # the last redemptions are on their way to it
            await crashes.kill_when_busy("affiliation", moment)

    season.after_phase = after_phase
    outcome, report = await play(stack, system, season)
    await crashes.finished()
    killed = Counter(k["service"] for k in crashes.kills)
    assert killed == {"notification": 1, "wallet": 1, "enrolment": 1, "redemption": 2, "affiliation": 1}, crashes.kills
    print(f"what each kill met: {crashes.kills}; requests sent again: {dict(outcome.resent)}")
    assert [k for k in crashes.kills if k["lag"] + k["outbox"] + k["requests"] == 0] == [], crashes.kills
    midway = next(k for k in crashes.kills if (k["service"], k["moment"]) == ("redemption", "redeem-midway"))
    assert midway["requests"] > 0, midway  # the scanner's service died with requests half answered
    db = await recomputed(system, outcome.campaign_id, report["campaign"]["enrolment_opens"])
    check_conservation_and_figures(outcome, report, db)
    assert comparable(report) == comparable(undisturbed.report)
