"""`carnet report`: a campaign's figures, as the département presents them at its yearly meeting
("46 200 Pass délivrés, 33 000 collégiens ont utilisé leur Pass, 2,1 millions d'euros de Pass
consommés, 73 500 tickets, montants les plus utilisés : 10 €, 70 €, 30 €, 910 organismes affiliés,
40 nouveaux"), gathered from the services' own APIs with an admin token.

Where a service has no figure for it, the report adds up what the service shows one by one
(each affiliate's statement): the numbers are the services' own.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import date, datetime, timedelta
from typing import Any

import httpx

from carnet_contracts.calendar import PARIS
from carnet_contracts.display import euros

from .demo import DemoError, Endpoints

# An affiliate is "new" in a campaign when it joined from the month before enrolment opens
# (the kit goes out at the end of May for a 1 June opening) onwards.
NEW_AFFILIATE_LEAD = timedelta(days=31)


class Gatherer:
    def __init__(self, endpoints: Endpoints, admin_headers: dict[str, str], concurrency: int = 8):
        self.ep = endpoints
        self.headers = admin_headers
        self.limit = asyncio.Semaphore(concurrency)
        self.http: httpx.AsyncClient

    async def get(self, url: str, **params: Any) -> Any:
        async with self.limit:
            try:
                answer = await self.http.get(url, params={k: v for k, v in params.items() if v is not None},
                                             headers=self.headers)
            except httpx.HTTPError as exc:
                raise DemoError(f"{url} unreachable ({exc.__class__.__name__}): is the stack up (`carnet stack up`)?") from None
        if answer.status_code != 200:
            raise DemoError(f"GET {url} answered {answer.status_code} {answer.text[:300]}")
        return answer.json()

    async def campaign(self, campaign_id: str | None) -> dict[str, Any]:
        if campaign_id:
            return await self.get(f"{self.ep.enrolment}/v1/campaigns/{campaign_id}")
        campaigns = await self.get(f"{self.ep.enrolment}/v1/campaigns")
        if not campaigns:
            raise DemoError("no campaign published yet (`carnet demo` publishes one)")
        # the campaign of the year: the one whose enrolment opened last
        return max(campaigns, key=lambda c: (c["enrolment_opens"], c["campaign_id"]))

    async def affiliates(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for status in ("active", "suspended"):
            offset = 0
            while True:
                page = await self.get(f"{self.ep.affiliation}/v1/affiliates", status=status, limit=500, offset=offset)
                found += page["items"]
                if len(page["items"]) < 500:
                    break
                offset += 500
        return list(await asyncio.gather(*(self.get(f"{self.ep.affiliation}/v1/affiliates/{a['affiliate_id']}")
                                           for a in found)))

    async def gather(self, campaign_id: str | None = None) -> dict[str, Any]:
        async with httpx.AsyncClient(timeout=60) as self.http:
            campaign = await self.campaign(campaign_id)
            cid = campaign["campaign_id"]
            enrolment, wallet_stats, affiliates = await asyncio.gather(
                self.get(f"{self.ep.enrolment}/v1/stats", campaign_id=cid),
                self.get(f"{self.ep.wallet}/v1/stats", campaign_id=cid),
                self.affiliates(),
            )
            statements = await asyncio.gather(*(
                self.get(f"{self.ep.affiliation}/v1/affiliates/{a['affiliate_id']}/statement", campaign_id=cid)
                for a in affiliates))
        return figures(campaign, enrolment, wallet_stats, affiliates, statements)


def figures(campaign: dict, enrolment: dict, wallet_stats: dict, affiliates: list[dict],
            statements: list[dict]) -> dict[str, Any]:
    """The report's figures from what the services answered; money in cents."""
    by_amount = wallet_stats["tickets_by_amount"]

    def cents(*statuses: str) -> int:
        return sum(row["amount_cents"] * row["by_status"].get(status, 0) for row in by_amount for status in statuses)

    redeemed_by_amount = {row["amount_cents"]: row["by_status"]["redeemed"]
                          for row in by_amount if row["by_status"].get("redeemed")}
    most_used = sorted(redeemed_by_amount.items(), key=lambda item: (-item[1], -item[0]))
    since = date.fromisoformat(campaign["enrolment_opens"]) - NEW_AFFILIATE_LEAD
    new = [a for a in affiliates
           if datetime.fromisoformat(str(a["created_at"])).astimezone(PARIS).date() >= since]
    by_status = enrolment.get("by_status", {})
    delay = enrolment.get("validation_delay", {})
    return {
        "campaign": {k: campaign[k] for k in ("campaign_id", "label", "enrolment_opens", "enrolment_closes",
                                               "pass_valid_until", "reimbursement_deadline")},
        "applications": {"total": enrolment.get("total", 0),
                         **{s: by_status.get(s, 0) for s in ("submitted", "validated", "wallet_ready", "rejected")}},
        "passes_granted": enrolment.get("granted", 0),
        "wallets": wallet_stats["passes_with_wallet"],
        "students_who_used_their_pass": wallet_stats["wallets_with_redeemed_ticket"],
        "allowance_granted_cents": wallet_stats["allowance_cents"],
        "credited_cents": wallet_stats["credited_cents"],
        "remaining_cents": wallet_stats["remaining_cents"],
        "credited_tickets": sum(sum(row["by_status"].values()) for row in by_amount),
        "voided_cents": cents("voided"),
        "still_credited_cents": cents("credited", "void_pending", "expired"),
        "consumed_cents": cents("redeemed"),
        "tickets_redeemed": sum(redeemed_by_amount.values()),
        "most_used_amounts": [{"amount_cents": a, "tickets": n} for a, n in most_used[:3]],
        "validation_delay": {"median_days": delay.get("median_days"), "p90_days": delay.get("p90_days"),
                             "within_promise_ratio": delay.get("within_promise_ratio"),
                             "promise_days": delay.get("promise_days", 15)},
        "affiliates": sum(1 for a in affiliates if a["status"] == "active"),
        "new_affiliates": len(new),
        "affiliates_who_redeemed": sum(1 for s in statements if s["count"]),
        "redeemed_at_affiliates_cents": sum(s["redeemed_cents"] for s in statements),
        "reimbursed_cents": sum(s["reimbursed_cents"] for s in statements),
        "in_payment_cents": sum(s["in_payment_cents"] for s in statements),
        "pending_cents": sum(s["pending_cents"] for s in statements),
    }


def _number(n: int | float | None) -> str:
    if n is None:
        return "–"
    if isinstance(n, float):
        return f"{n:.1f}".replace(".", ",")
    return f"{n:,}".replace(",", "\u202f")


def _ratio(r: float | None) -> str:
    return "–" if r is None else f"{round(100 * r)} %"


def rows(f: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(key, French label, value as a person reads it), in the order of the département's slides."""
    d = f["validation_delay"]
    amounts = " ; ".join(f"{euros(m['amount_cents'], drop_zero_cents=True)} : {_number(m['tickets'])}"
                         for m in f["most_used_amounts"]) or "–"
    a = f["applications"]
    return [
        ("applications", "Inscriptions reçues", f"{_number(a['total'])} (dont {_number(a['rejected'])} rejetées)"),
        ("passes_granted", "Pass délivrés", _number(f["passes_granted"])),
        ("students_who_used_their_pass", "Collégiens ayant utilisé leur Pass", _number(f["students_who_used_their_pass"])),
        ("consumed_cents", "Montant des Pass utilisés", euros(f["consumed_cents"])),
        ("tickets_redeemed", "Nombre de tickets", _number(f["tickets_redeemed"])),
        ("credited_tickets", "Tickets crédités par les familles", _number(f["credited_tickets"])),
        ("most_used_amounts", "Montants de tickets les plus utilisés", amounts),
        ("allowance_granted_cents", "Dotation accordée", euros(f["allowance_granted_cents"])),
        ("credited_cents", "Montant crédité sur les tickets", euros(f["credited_cents"])),
        ("remaining_cents", "Reste à créditer", euros(f["remaining_cents"])),
        ("voided_cents", "Tickets annulés par les familles", euros(f["voided_cents"])),
        ("still_credited_cents", "Tickets crédités non utilisés", euros(f["still_credited_cents"])),
        ("affiliates", "Organismes affiliés", _number(f["affiliates"])),
        ("new_affiliates", "dont nouveaux organismes affiliés", _number(f["new_affiliates"])),
        ("validation_delay", "Délai de validation (médiane / 90 %)",
         f"{_number(d['median_days'])} j / {_number(d['p90_days'])} j ; {_ratio(d['within_promise_ratio'])} sous {d['promise_days']} jours"),
        ("reimbursed_cents", "Remboursé aux affiliés", euros(f["reimbursed_cents"])),
        ("in_payment_cents", "Virements en cours", euros(f["in_payment_cents"])),
        ("pending_cents", "En attente de remboursement", euros(f["pending_cents"])),
    ]


def as_table(f: dict[str, Any]) -> Any:
    from rich.table import Table

    c = f["campaign"]
    table = Table(title=f"{c['label']} — bilan de la campagne", caption=(
        f"Inscriptions du {_day(c['enrolment_opens'])} au {_day(c['enrolment_closes'])} ; Pass valables jusqu'au "
        f"{_day(c['pass_valid_until'])} ; remboursements jusqu'au {_day(c['reimbursement_deadline'])}"))
    table.add_column("Indicateur")
    table.add_column("Valeur", justify="right")
    for _, label, value in rows(f):
        table.add_row(label, value)
    return table


def as_csv(f: dict[str, Any]) -> str:
    """`;`-separated, as Excel opens it in France; money in euros with a decimal comma."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(["indicateur", "libellé", "valeur", "unité"])

    def money(cents: int) -> str:
        return f"{cents / 100:.2f}".replace(".", ",")

    for key, label, value in rows(f):
        raw = f.get(key)
        if key.endswith("_cents"):
            writer.writerow([key, label, money(raw), "EUR"])
        elif isinstance(raw, int):
            writer.writerow([key, label, raw, ""])
        elif key == "applications":
            writer.writerow([key, label, raw["total"], ""])
            writer.writerow(["applications_rejected", "Inscriptions rejetées", raw["rejected"], ""])
        elif key == "most_used_amounts":
            for m in raw:
                writer.writerow([f"tickets_{m['amount_cents'] // 100}_eur", f"Tickets de {money(m['amount_cents'])} €",
                                 m["tickets"], ""])
        elif key == "validation_delay":
            writer.writerow(["validation_delay_median_days", "Délai de validation médian", _number(raw["median_days"]), "jours"])
            writer.writerow(["validation_delay_p90_days", "Délai de validation (90 %)", _number(raw["p90_days"]), "jours"])
        else:
            writer.writerow([key, label, value, ""])
    return "\ufeff" + out.getvalue()


def as_json(f: dict[str, Any]) -> str:
    return json.dumps(f, ensure_ascii=False, indent=2, default=str)


def _day(text: str) -> str:
    return date.fromisoformat(text).strftime("%d/%m/%Y")


async def gather(endpoints: Endpoints, admin_headers: dict[str, str], campaign_id: str | None = None) -> dict[str, Any]:
    return await Gatherer(endpoints, admin_headers).gather(campaign_id)
