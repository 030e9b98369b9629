"""The report's figures from the services' figures answers (enrolment, wallet, affiliation `GET
/v1/stats`), and the committed budget's check: every cent credited on the tickets is in exactly one
of outstanding, expired unspent, pending, in payment or reimbursed. Pure arithmetic, money in cents."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from carnet_contracts.calendar import PARIS
from carnet_contracts.display import day as shown_day
from carnet_contracts.display import euros

# An affiliate is "new" in a campaign when it joined from the month before enrolment opens
# (the kit goes out at the end of May for a 1 June opening) onwards.
NEW_AFFILIATE_LEAD = timedelta(days=31)
AFFILIATED = ("active", "suspended")


def figures(campaign: dict, enrolment: dict, wallet: dict, affiliation: dict, schools: list[dict],
            today: date) -> dict[str, Any]:
    """The report's figures; `today` is the Paris day the services answered on (the affiliates'
    reimbursement figures are today's, whatever the wallet's `as_of`)."""
    by_amount = wallet["tickets_by_amount"]
    redeemed_by_amount = {row["amount_cents"]: row["by_status"]["redeemed"]
                          for row in by_amount if row["by_status"].get("redeemed")}
    most_used = sorted(redeemed_by_amount.items(), key=lambda item: (-item[1], -item[0]))
    consumed = sum(amount * n for amount, n in redeemed_by_amount.items())
    since = date.fromisoformat(campaign["enrolment_opens"]) - NEW_AFFILIATE_LEAD
    organisations = affiliation["affiliates"]
    new = [a for a in organisations if a["status"] in AFFILIATED and a["created_at"]
           and datetime.fromisoformat(str(a["created_at"])).astimezone(PARIS).date() >= since]
    by_status = enrolment.get("by_status", {})
    delay = enrolment.get("validation_delay", {})
    waiting = enrolment.get("waiting", {})
    return {
        "campaign": {k: campaign[k] for k in ("campaign_id", "label", "enrolment_opens", "enrolment_closes",
                                               "pass_valid_until", "reimbursement_deadline")},
        "applications": {"total": enrolment.get("total", 0),
                         **{s: by_status.get(s, 0) for s in ("submitted", "validated", "wallet_ready", "rejected")}},
        "passes_granted": enrolment.get("granted", 0),
        "wallets": wallet["passes_with_wallet"],
        "students_who_used_their_pass": wallet["wallets_with_redeemed_ticket"],
        "allowance_granted_cents": wallet["allowance_cents"],
        "credited_cents": wallet["credited_cents"],
        "remaining_cents": wallet["remaining_cents"],
        "credited_tickets": sum(row["count"] for row in by_amount),
        "consumed_cents": consumed,
        "tickets_redeemed": sum(redeemed_by_amount.values()),
        "most_used_amounts": [{"amount_cents": a, "tickets": n} for a, n in most_used[:3]],
        "validation_delay": {"median_days": delay.get("median_days"), "p90_days": delay.get("p90_days"),
                             "max_days": delay.get("max_days"), "within_promise_ratio": delay.get("within_promise_ratio"),
                             "promise_days": delay.get("promise_days", 15)},
        "waiting": {"count": waiting.get("count", 0), "oldest_days": waiting.get("oldest_days"),
                    "median_days": waiting.get("median_days")},
        "schools": school_rows(enrolment, schools),
        "affiliates": affiliation["affiliates_by_status"].get("active", 0),
        "affiliates_by_status": affiliation["affiliates_by_status"],
        "new_affiliates": len(new),
        "affiliates_who_redeemed": sum(1 for a in organisations if a["count"]),
        "redeemed_at_affiliates_cents": affiliation["redeemed_cents"],
        "reimbursed_cents": affiliation["reimbursed_cents"],
        "in_payment_cents": affiliation["in_payment_cents"],
        "pending_cents": affiliation["pending_cents"],
        "cancelled_cents": affiliation["cancelled_cents"],
        "committed": committed(wallet, affiliation, consumed, today),
        "by_affiliate": [{k: a[k] for k in ("affiliate_id", "name", "status", "count", "redeemed_cents",
                                             "reimbursed_cents", "in_payment_cents", "pending_cents")}
                         for a in sorted(organisations, key=lambda a: (-a["redeemed_cents"], a["name"] or ""))],
    }


def school_rows(enrolment: dict, schools: list[dict]) -> list[dict[str, Any]]:
    """Per school: applications, the validation delay of those validated, the files still waiting."""
    names = {s["school_id"]: s["name"] for s in schools}
    applications = enrolment.get("by_school", {})
    delays = enrolment.get("validation_delay_by_school", {})
    waiting = enrolment.get("waiting_by_school", {})
    rows = []
    for school_id in sorted(applications.keys() | delays.keys() | waiting.keys(),
                            key=lambda s: (names.get(s, s), s)):
        delay, wait = delays.get(school_id, {}), waiting.get(school_id, {})
        rows.append({"school_id": school_id, "name": names.get(school_id),
                     "applications": sum(applications.get(school_id, {}).values()),
                     "validated": delay.get("count", 0), "median_days": delay.get("median_days"),
                     "max_days": delay.get("max_days"), "waiting": wait.get("count", 0),
                     "oldest_waiting_days": wait.get("oldest_days")})
    return rows


def committed(wallet: dict, affiliation: dict, redeemed_now_cents: int, today: date) -> dict[str, Any]:
    """The money committed as of the wallet's `as_of`, and the checks that every cent credited is in
    exactly one part.

    The wallet splits what was credited by the end of `as_of` into outstanding, expired unspent and
    redeemed; the affiliation service splits what is redeemed today into pending, in payment and
    reimbursed (it keeps no history of that split). From today on, the two make five parts of what
    was credited; for a day already past, the redeemed part is checked against the affiliates as it is
    today."""
    as_of = date.fromisoformat(wallet["as_of"])
    credited, outstanding, expired = (wallet["credited_as_of_cents"], wallet["outstanding_cents"],
                                      wallet["expired_unspent_cents"])
    pending, in_payment, reimbursed = (affiliation["pending_cents"], affiliation["in_payment_cents"],
                                       affiliation["reimbursed_cents"])
    five_parts = as_of >= today
    day = shown_day(as_of)
    checks = [
        _check(f"crédité au {day} = utilisable + expiré sans être utilisé + encaissé au {day} (porte-monnaie)",
               credited, outstanding + expired + wallet["redeemed_cents"]),
        _check("encaissé à ce jour (porte-monnaie) = en attente + en cours de virement + remboursé (organismes)",
               redeemed_now_cents, pending + in_payment + reimbursed),
    ]
    if five_parts:
        checks.insert(0, _check(f"crédité au {day} = utilisable + expiré + en attente + en cours de virement + remboursé",
                                credited, outstanding + expired + pending + in_payment + reimbursed))
    holds = all(c["holds"] for c in checks)
    if not holds:
        wrong = next(c for c in checks if not c["holds"])
        verdict = (f"ÉCART : {wrong['rule']} : {euros(wrong['left_cents'])} ≠ {euros(wrong['right_cents'])} "
                   f"(écart de {euros(abs(wrong['left_cents'] - wrong['right_cents']))}). Des événements sont "
                   "peut-être encore en route entre les services : relancez le bilan dans un instant.")
    elif five_parts:
        verdict = f"Chaque centime crédité au {day} est dans une seule des cinq parts, au centime près."
    else:
        verdict = (f"Chaque centime crédité au {day} est utilisable, expiré ou encaissé, au centime près ; ce qui est "
                   "encaissé se répartit aujourd'hui entre attente, virement et remboursement, au centime près.")
    return {
        "as_of": as_of.isoformat(),
        "credited_cents": credited,
        "outstanding_cents": outstanding,
        "outstanding_tickets": wallet["outstanding_tickets"],
        "outstanding_by_valid_until": wallet["outstanding_by_valid_until"],
        "expired_unspent_cents": expired,
        "expired_unspent_tickets": wallet["expired_unspent_tickets"],
        "redeemed_cents": wallet["redeemed_cents"],
        "redeemed_tickets": wallet["redeemed_tickets"],
        "redeemed_split_on": today.isoformat(),
        "pending_cents": pending,
        "in_payment_cents": in_payment,
        "reimbursed_cents": reimbursed,
        "five_parts": five_parts,
        "checks": checks,
        "holds": holds,
        "verdict": verdict,
    }


def _check(rule: str, left: int, right: int) -> dict[str, Any]:
    return {"rule": rule, "left_cents": left, "right_cents": right, "holds": left == right}
