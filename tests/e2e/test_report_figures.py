"""The report's arithmetic on the services' figures answers, without a stack: what each figure adds up,
the committed budget's check (every cent credited in exactly one part), what the report asks the
services, and how the département reads it (table, `;` CSV for Excel, JSON in cents)."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import date
from pathlib import Path

import httpx
from rich.console import Console

from carnet_local.endpoints import Endpoints
from carnet_local.report import as_csv, as_json, as_table, figures
from carnet_local.report.gather import Gatherer

CAMPAIGN = {"campaign_id": "c", "label": "Pass Hauts-de-Seine 2014-2015", "enrolment_opens": "2014-06-01",
            "enrolment_closes": "2014-11-30", "pass_valid_until": "2015-03-31", "reimbursement_deadline": "2015-04-30"}
TODAY = date(2015, 1, 10)

# Four wallets of 70 € (one never credited). Tickets holding an amount, all valid until 31/03/2015,
# all credited by 01/10/2014 (a ticket voided since is blank again and holds nothing):
#   wallet 1: 10 € redeemed 02/10/2014 at B, 10 € redeemed 20/12/2014 at A, 10 € credited, unspent
#   wallet 2: 70 € redeemed 05/11/2014 at A
#   wallet 3: 30 € credited, unspent
# At the affiliates: A's 70 € in a paid batch, B's 10 € in a batch not yet paid, A's other 10 € pending;
# a 10 € redemption was cancelled by its counter.
BY_AMOUNT = [{"amount_cents": 1000, "count": 3, "by_status": {"redeemed": 2, "credited": 1}},
             {"amount_cents": 3000, "count": 1, "by_status": {"credited": 1}},
             {"amount_cents": 7000, "count": 1, "by_status": {"redeemed": 1}}]


def wallet_stats(as_of: str, outstanding: tuple[int, int], expired: tuple[int, int], redeemed: tuple[int, int]) -> dict:
    """The wallet's GET /v1/stats for the tickets above, as of `as_of`: (cents, tickets) of each part."""
    return {
        "campaign_id": "c", "as_of": as_of, "passes_with_wallet": 4, "wallets_with_redeemed_ticket": 2,
        "allowance_cents": 28000, "credited_cents": 13000, "remaining_cents": 15000,
        "tickets_by_status": {"redeemed": 3, "credited": 2, "blank": 23}, "tickets_by_amount": BY_AMOUNT,
        "watched_amounts": {},
        "outstanding_cents": outstanding[0], "outstanding_tickets": outstanding[1],
        "outstanding_by_valid_until": [{"valid_until": "2015-03-31", "cents": outstanding[0], "tickets": outstanding[1]}]
        if outstanding[1] else [],
        "expired_unspent_cents": expired[0], "expired_unspent_tickets": expired[1],
        "redeemed_cents": redeemed[0], "redeemed_tickets": redeemed[1],
        "credited_as_of_cents": outstanding[0] + expired[0] + redeemed[0],
    }


WALLET_TODAY = wallet_stats("2015-01-10", outstanding=(4000, 2), expired=(0, 0), redeemed=(9000, 3))


def affiliate(affiliate_id: str, status: str, created_at: str, count: int, reimbursed: int = 0, in_payment: int = 0,
              pending: int = 0) -> dict:
    return {"affiliate_id": affiliate_id, "name": f"Organisme {affiliate_id.upper()}", "status": status,
            "created_at": created_at, "count": count, "redeemed_cents": reimbursed + in_payment + pending,
            "reimbursed_cents": reimbursed, "in_payment_cents": in_payment, "pending_cents": pending}


def affiliation_stats(pending: int = 1000) -> dict:
    """The affiliation service's GET /v1/stats for the redemptions above."""
    return {
        "campaign_id": "c", "redeemed_cents": 8000 + pending, "redeemed_count": 2 + (pending > 0),
        "reimbursed_cents": 7000, "reimbursed_count": 1, "in_payment_cents": 1000, "in_payment_count": 1,
        "pending_cents": pending, "pending_count": int(pending > 0), "cancelled_cents": 1000, "cancelled_count": 1,
        "batches": {"in_payment": 1, "paid": 1}, "affiliates_by_status": {"active": 2, "suspended": 1, "invited": 1},
        "affiliates": [affiliate("a", "active", "2014-06-20T08:00:00+00:00", 1 + (pending > 0), reimbursed=7000,
                                 pending=pending),
                       affiliate("b", "active", "2012-09-01T08:00:00+00:00", 1, in_payment=1000),
                       affiliate("s", "suspended", "2014-05-10T08:00:00+00:00", 0)],
    }


ENROLMENT = {"campaign_id": "c", "total": 6, "by_status": {"wallet_ready": 4, "rejected": 1, "submitted": 1},
             "granted": 4, "by_school": {"antony-1": {"wallet_ready": 3, "rejected": 1}, "sceaux-2": {"wallet_ready": 1,
                                                                                                      "submitted": 1}},
             "validation_delay": {"count": 4, "median_days": 3.5, "max_days": 20.0, "p90_days": 12.0, "promise_days": 15,
                                  "within_promise": 3, "within_promise_ratio": 0.75},
             "validation_delay_by_school": {"antony-1": {"count": 3, "median_days": 2.0, "max_days": 20.0},
                                            "sceaux-2": {"count": 1, "median_days": 5.0, "max_days": 5.0}},
             "waiting": {"count": 1, "oldest_submitted_at": "2014-12-01T09:00:00+00:00", "oldest_days": 40,
                         "median_days": 40.0},
             "waiting_by_school": {"sceaux-2": {"count": 1, "oldest_submitted_at": "2014-12-01T09:00:00+00:00",
                                                "oldest_days": 40, "median_days": 40.0}}}
SCHOOLS = [{"school_id": "sceaux-2", "name": "Collège Marie Curie (Sceaux)", "postcode": "92330", "city": "Sceaux"},
           {"school_id": "antony-1", "name": "Collège Anne Frank (Antony)", "postcode": "92160", "city": "Antony"}]


def report(wallet: dict = WALLET_TODAY, affiliation: dict | None = None, today: date = TODAY) -> dict:
    return figures(CAMPAIGN, ENROLMENT, wallet, affiliation or affiliation_stats(), SCHOOLS, today)


def test_money_adds_up_from_the_allowance_to_the_affiliates():
    f = report()
    # the figures, counted by hand from the tickets and redemptions above
    assert (f["allowance_granted_cents"], f["credited_cents"], f["remaining_cents"]) == (28000, 13000, 15000)
    assert (f["consumed_cents"], f["credited_tickets"]) == (9000, 5)
    assert (f["redeemed_at_affiliates_cents"], f["reimbursed_cents"], f["in_payment_cents"], f["pending_cents"],
            f["cancelled_cents"]) == (9000, 7000, 1000, 1000, 1000)


def test_every_cent_credited_is_in_exactly_one_of_five_parts_as_of_today():
    c = report()["committed"]
    assert (c["as_of"], c["credited_cents"]) == ("2015-01-10", 13000)
    assert (c["outstanding_cents"], c["expired_unspent_cents"], c["pending_cents"], c["in_payment_cents"],
            c["reimbursed_cents"]) == (4000, 0, 1000, 1000, 7000)
    assert c["outstanding_by_valid_until"] == [{"valid_until": "2015-03-31", "cents": 4000, "tickets": 2}]
    assert c["five_parts"] and c["holds"] and all(check["holds"] for check in c["checks"])
    assert c["verdict"] == "Chaque centime crédité au 10/01/2015 est dans une seule des cinq parts, au centime près."


def test_once_the_passes_have_ended_what_was_not_spent_is_expired_not_committed():
    after = wallet_stats("2015-04-15", outstanding=(0, 0), expired=(4000, 2), redeemed=(9000, 3))
    c = report(wallet=after)["committed"]
    assert (c["outstanding_cents"], c["expired_unspent_cents"], c["outstanding_by_valid_until"]) == (0, 4000, [])
    assert c["five_parts"] and c["holds"]


def test_for_a_day_already_past_the_redeemed_part_is_checked_against_the_affiliates_as_they_are_today():
    # by 30/11/2014 only B's 10 € and A's 70 € had been redeemed; A's other 10 € was still outstanding
    before = wallet_stats("2014-11-30", outstanding=(5000, 3), expired=(0, 0), redeemed=(8000, 2))
    c = report(wallet=before)["committed"]
    assert not c["five_parts"] and c["holds"]
    assert [(check["left_cents"], check["right_cents"]) for check in c["checks"]] == [(13000, 13000), (9000, 9000)]
    assert c["redeemed_cents"] == 8000 and c["redeemed_split_on"] == "2015-01-10"
    assert "se répartit aujourd'hui entre attente, virement et remboursement" in c["verdict"]


def test_a_redemption_the_affiliates_have_not_seen_yet_is_reported_as_a_gap_of_its_amount():
    c = report(affiliation=affiliation_stats(pending=0))["committed"]
    assert not c["holds"]
    assert [check["holds"] for check in c["checks"]] == [False, True, False]
    assert c["verdict"].startswith("ÉCART : crédité au 10/01/2015 = utilisable + expiré + en attente")
    assert "écart de 10,00\u00a0€" in c["verdict"]


def test_students_who_used_their_pass_are_wallets_with_a_redeemed_ticket_and_amounts_rank_by_tickets():
    f = report()
    assert f["students_who_used_their_pass"] == 2
    assert f["tickets_redeemed"] == 3
    assert f["most_used_amounts"] == [{"amount_cents": 1000, "tickets": 2}, {"amount_cents": 7000, "tickets": 1}]


def test_new_affiliates_joined_from_the_month_before_enrolment_opens_and_suspended_ones_are_not_affiliated():
    f = report()
    assert (f["affiliates"], f["new_affiliates"], f["affiliates_who_redeemed"]) == (2, 2, 2)
    assert [a["affiliate_id"] for a in f["by_affiliate"]] == ["a", "b", "s"]  # by amount redeemed


def test_each_school_shows_its_validation_delay_and_the_files_still_waiting_under_its_name():
    assert report()["schools"] == [
        {"school_id": "antony-1", "name": "Collège Anne Frank (Antony)", "applications": 4, "validated": 3,
         "median_days": 2.0, "max_days": 20.0, "waiting": 0, "oldest_waiting_days": None},
        {"school_id": "sceaux-2", "name": "Collège Marie Curie (Sceaux)", "applications": 2, "validated": 1,
         "median_days": 5.0, "max_days": 5.0, "waiting": 1, "oldest_waiting_days": 40},
    ]


def test_the_csv_is_semicolon_separated_for_excel_with_euros_a_decimal_comma_and_the_committed_budget():
    text = as_csv(report())
    assert text.startswith("\ufeff")
    rows = {r[0]: r for r in csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=";")}
    assert rows["consumed_cents"][2:] == ["90,00", "EUR"]
    assert rows["passes_granted"][1:3] == ["Pass délivrés", "4"]
    assert rows["tickets_10_eur"][2] == "2"
    assert rows["validation_delay_median_days"][2:] == ["3,5", "jours"]
    assert rows["committed_as_of"][2] == "2015-01-10"
    assert rows["committed_outstanding_cents"][2:] == ["40,00", "EUR"]
    assert rows["committed_outstanding_until_2015-03-31_cents"][2] == "40,00"
    assert [rows[f"committed_{part}_cents"][2] for part in ("expired_unspent", "pending", "in_payment", "reimbursed")] \
        == ["0,00", "10,00", "10,00", "70,00"]
    assert rows["committed_check"][2] == "vérifié"


def test_the_table_uses_the_departements_words_and_says_whether_the_budget_adds_up():
    console = Console(record=True, width=160)
    console.print(as_table(report()))
    shown = console.export_text()
    for words in ("Pass délivrés", "Collégiens ayant utilisé leur Pass", "Montant des Pass utilisés", "90,00\u00a0€",
                  "10\u00a0€ : 2", "Organismes affiliés", "75 % sous 15 jours", "Budget engagé au 10/01/2015",
                  "valables jusqu'au 31/03/2015", "40,00\u00a0€ (2 tickets)", "dont remboursé aux organismes",
                  "dans une seule des cinq parts", "Collège Marie Curie (Sceaux)", "40 j"):
        assert words in shown, words


def test_the_json_keeps_cents_and_every_affiliates_figures():
    found = json.loads(as_json(report()))
    assert found["consumed_cents"] == 9000 and found["committed"]["outstanding_cents"] == 4000
    assert {a["affiliate_id"]: a["pending_cents"] for a in found["by_affiliate"]} == {"a": 1000, "b": 0, "s": 0}


def test_the_report_asks_each_service_for_its_figures_once_and_never_an_affiliates_statement():
    asked: list[tuple[str, dict]] = []
    answers = {"/v1/campaigns/c": CAMPAIGN, "/v1/stats@8001": ENROLMENT, "/v1/schools": SCHOOLS,
               "/v1/stats@8002": WALLET_TODAY, "/v1/stats@8004": affiliation_stats()}

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append((f"{request.url.path}@{request.url.port}", dict(request.url.params)))
        found = answers.get(request.url.path) or answers[f"{request.url.path}@{request.url.port}"]
        return httpx.Response(200, json=found)

    endpoints = Endpoints(*(f"http://127.0.0.1:{port}" for port in range(8001, 8006)), keys_dir=Path("."),
                          mail_dir=Path("."), kafka_bootstrap="")
    gatherer = Gatherer(endpoints, {"Authorization": "Bearer x"}, transport=httpx.MockTransport(answer))
    found = asyncio.run(gatherer.gather("c", as_of=date(2015, 1, 10)))
    assert sorted(asked) == sorted([("/v1/campaigns/c@8001", {}), ("/v1/stats@8001", {"campaign_id": "c"}),
                                    ("/v1/schools@8001", {}), ("/v1/stats@8002", {"campaign_id": "c", "as_of": "2015-01-10"}),
                                    ("/v1/stats@8004", {"campaign_id": "c"})])
    assert found["committed"]["as_of"] == "2015-01-10"
