"""The report's arithmetic on the services' answers, without a stack: what each figure adds up, and
how the département reads it (table, `;` CSV for Excel, JSON in cents)."""

from __future__ import annotations

import csv
import io
import json

from rich.console import Console

from carnet_local.report import as_csv, as_json, as_table, figures

CAMPAIGN = {"campaign_id": "c", "label": "Pass Hauts-de-Seine 2014-2015", "enrolment_opens": "2014-06-01",
            "enrolment_closes": "2014-11-30", "pass_valid_until": "2015-03-31", "reimbursement_deadline": "2015-04-30"}


def ticket(status: str, amount: int | None) -> dict:
    return {"status": status, "amount_cents": amount}


def wallet(*tickets: dict) -> dict:
    credited = sum(t["amount_cents"] for t in tickets if t["status"] in ("credited", "redeemed", "void_pending"))
    return {"allowance_cents": 7000, "remaining_cents": 7000 - credited, "tickets": list(tickets)}


WALLETS = [
    wallet(ticket("redeemed", 1000), ticket("redeemed", 1000), ticket("voided", 3000), ticket("credited", 1000),
           ticket("blank", None)),
    wallet(ticket("redeemed", 7000)),
    wallet(ticket("credited", 3000)),          # credited, never used
    wallet(ticket("blank", None)),
]
AFFILIATES = [
    {"affiliate_id": "a", "status": "active", "created_at": "2014-06-20T08:00:00+00:00"},
    {"affiliate_id": "b", "status": "active", "created_at": "2012-09-01T08:00:00+00:00"},
    {"affiliate_id": "s", "status": "suspended", "created_at": "2014-05-10T08:00:00+00:00"},
]
STATEMENTS = [
    {"count": 2, "redeemed_cents": 8000, "reimbursed_cents": 7000, "in_payment_cents": 0, "pending_cents": 1000},
    {"count": 1, "redeemed_cents": 1000, "reimbursed_cents": 0, "in_payment_cents": 1000, "pending_cents": 0},
    {"count": 0, "redeemed_cents": 0, "reimbursed_cents": 0, "in_payment_cents": 0, "pending_cents": 0},
]
ENROLMENT = {"total": 6, "by_status": {"wallet_ready": 4, "rejected": 1, "submitted": 1}, "granted": 4,
             "validation_delay": {"median_days": 3.5, "p90_days": 12.0, "within_promise_ratio": 0.75, "promise_days": 15}}


def wallet_stats(wallets: list[dict]) -> dict:
    """What the wallet's GET /v1/stats answers for these wallets."""
    by_amount: dict[int, dict[str, int]] = {}
    for t in (t for w in wallets for t in w["tickets"] if t["amount_cents"] is not None):
        statuses = by_amount.setdefault(t["amount_cents"], {})
        statuses[t["status"]] = statuses.get(t["status"], 0) + 1
    allowance = sum(w["allowance_cents"] for w in wallets)
    credited = allowance - sum(w["remaining_cents"] for w in wallets)
    return {
        "passes_with_wallet": len(wallets),
        "wallets_with_redeemed_ticket": sum(1 for w in wallets if any(t["status"] == "redeemed" for t in w["tickets"])),
        "allowance_cents": allowance, "credited_cents": credited, "remaining_cents": allowance - credited,
        "tickets_by_amount": [{"amount_cents": a, "by_status": st} for a, st in sorted(by_amount.items())],
    }


WALLET_STATS = wallet_stats(WALLETS)


def report() -> dict:
    return figures(CAMPAIGN, ENROLMENT, WALLET_STATS, AFFILIATES, STATEMENTS)


def test_money_adds_up_from_the_allowance_to_the_affiliates():
    f = report()
    # the figures, counted by hand from WALLETS and STATEMENTS above
    assert (f["allowance_granted_cents"], f["credited_cents"], f["remaining_cents"]) == (28000, 13000, 15000)
    assert (f["consumed_cents"], f["voided_cents"], f["still_credited_cents"]) == (9000, 3000, 4000)
    assert (f["redeemed_at_affiliates_cents"], f["reimbursed_cents"], f["in_payment_cents"], f["pending_cents"]) == (
        9000, 7000, 1000, 1000)


def test_students_who_used_their_pass_are_wallets_with_a_redeemed_ticket_and_amounts_rank_by_tickets():
    f = report()
    assert f["students_who_used_their_pass"] == 2
    assert f["tickets_redeemed"] == 3
    assert f["most_used_amounts"] == [{"amount_cents": 1000, "tickets": 2}, {"amount_cents": 7000, "tickets": 1}]
    assert f["credited_tickets"] == 6


def test_new_affiliates_joined_from_the_month_before_enrolment_opens_and_suspended_ones_are_not_affiliated():
    f = report()
    assert (f["affiliates"], f["new_affiliates"], f["affiliates_who_redeemed"]) == (2, 2, 2)


def test_the_csv_is_semicolon_separated_for_excel_with_euros_and_a_decimal_comma():
    text = as_csv(report())
    assert text.startswith("\ufeff")
    rows = {r[0]: r for r in csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=";")}
    assert rows["consumed_cents"][2:] == ["90,00", "EUR"]
    assert rows["passes_granted"][1:3] == ["Pass délivrés", "4"]
    assert rows["tickets_10_eur"][2] == "2"


def test_the_table_uses_the_departements_words_and_json_keeps_cents():
    console = Console(record=True, width=120)
    console.print(as_table(report()))
    shown = console.export_text()
    for words in ("Pass délivrés", "Collégiens ayant utilisé leur Pass", "Montant des Pass utilisés", "90,00\u00a0€",
                  "10\u00a0€ : 2", "Organismes affiliés", "75 % sous 15 jours"):
        assert words in shown
    assert json.loads(as_json(report()))["consumed_cents"] == 9000
