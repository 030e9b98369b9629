"""How the département reads the figures: a table with its own words, a `;` CSV as Excel opens it in
France (euros with a decimal comma), JSON with money in cents."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from carnet_contracts.display import day, euros


@dataclass(frozen=True)
class Line:
    """One figure: `value` in cents when `unit` is EUR, a ratio (0 to 1) for %, days for jours."""

    key: str
    label: str
    value: int | float | str | None
    unit: str = ""
    shown: str | None = None      # how the table shows it, when not just the value
    in_table: bool = True
    in_csv: bool = True


def _number(n: int | float | None) -> str:
    if n is None:
        return "–"
    if isinstance(n, float):
        return f"{n:.1f}".replace(".", ",")
    return f"{n:,}".replace(",", "\u202f")


def _shown(line: Line) -> str:
    if line.shown is not None:
        return line.shown
    if line.unit == "EUR":
        return euros(int(line.value or 0))
    if line.unit == "%":
        return "–" if line.value is None else f"{round(100 * float(line.value))} %"
    if line.unit == "jours":
        return f"{_number(line.value)} j"
    return line.value if isinstance(line.value, str) else _number(line.value)


def campaign_lines(f: dict[str, Any]) -> list[Line]:
    """The campaign's figures, in the order of the département's slides."""
    a, d, w = f["applications"], f["validation_delay"], f["waiting"]
    most_used = " ; ".join(f"{euros(m['amount_cents'], drop_zero_cents=True)} : {_number(m['tickets'])}"
                           for m in f["most_used_amounts"]) or "–"
    return [
        Line("applications", "Inscriptions reçues", a["total"]),
        Line("applications_rejected", "dont rejetées", a["rejected"]),
        Line("passes_granted", "Pass délivrés", f["passes_granted"]),
        Line("students_who_used_their_pass", "Collégiens ayant utilisé leur Pass", f["students_who_used_their_pass"]),
        Line("consumed_cents", "Montant des Pass utilisés", f["consumed_cents"], "EUR"),
        Line("tickets_redeemed", "Nombre de tickets", f["tickets_redeemed"]),
        Line("most_used_amounts", "Montants de tickets les plus utilisés", None, shown=most_used, in_csv=False),
        *(Line(f"tickets_{m['amount_cents'] // 100}_eur", f"Tickets de {_money(m['amount_cents'])} €", m["tickets"],
               in_table=False) for m in f["most_used_amounts"]),
        Line("credited_tickets", "Tickets crédités (non annulés)", f["credited_tickets"]),
        Line("allowance_granted_cents", "Dotation accordée", f["allowance_granted_cents"], "EUR"),
        Line("credited_cents", "Montant crédité sur les tickets", f["credited_cents"], "EUR"),
        Line("remaining_cents", "Reste à créditer", f["remaining_cents"], "EUR"),
        Line("affiliates", "Organismes affiliés", f["affiliates"]),
        Line("new_affiliates", "dont nouveaux organismes affiliés", f["new_affiliates"]),
        Line("affiliates_who_redeemed", "Organismes ayant encaissé des tickets", f["affiliates_who_redeemed"]),
        Line("validation_delay", "Délai de validation (médiane / 90 %)", None, in_csv=False,
             shown=f"{_number(d['median_days'])} j / {_number(d['p90_days'])} j ; "
                   f"{_shown(Line('', '', d['within_promise_ratio'], '%'))} sous {d['promise_days']} jours"),
        Line("validation_delay_median_days", "Délai de validation médian", d["median_days"], "jours", in_table=False),
        Line("validation_delay_p90_days", "Délai de validation (90 %)", d["p90_days"], "jours", in_table=False),
        Line("validation_within_promise_ratio", f"Dossiers validés sous {d['promise_days']} jours",
             d["within_promise_ratio"], "%", in_table=False),
        Line("waiting", "Dossiers en attente des collèges", w["count"],
             shown=f"{_number(w['count'])} (le plus ancien : {_number(w['oldest_days'])} j)" if w["count"] else "0"),
        Line("waiting_oldest_days", "Dossier en attente le plus ancien", w["oldest_days"], "jours", in_table=False),
        Line("redeemed_at_affiliates_cents", "Encaissé par les organismes", f["redeemed_at_affiliates_cents"], "EUR"),
        Line("reimbursed_cents", "Remboursé aux affiliés", f["reimbursed_cents"], "EUR"),
        Line("in_payment_cents", "Virements en cours", f["in_payment_cents"], "EUR"),
        Line("pending_cents", "En attente de remboursement", f["pending_cents"], "EUR"),
        Line("cancelled_cents", "Encaissements annulés", f["cancelled_cents"], "EUR"),
    ]


def committed_lines(f: dict[str, Any]) -> list[Line]:
    """The committed budget as of its day: the parts of what was credited, and whether they add up."""
    c = f["committed"]
    when = day(date.fromisoformat(c["as_of"]))
    lines = [
        Line("committed_as_of", "Au", c["as_of"], "date", shown=when),
        Line("committed_credited_cents", f"Crédité sur les tickets au {when}", c["credited_cents"], "EUR"),
        Line("committed_outstanding_cents", "dont utilisable (crédité, non encaissé, encore valable)",
             c["outstanding_cents"], "EUR", shown=f"{euros(c['outstanding_cents'])} ({_number(c['outstanding_tickets'])} tickets)"),
        *(Line(f"committed_outstanding_until_{share['valid_until']}_cents",
               f"    valables jusqu'au {day(date.fromisoformat(share['valid_until']))}", share["cents"], "EUR",
               shown=f"{euros(share['cents'])} ({_number(share['tickets'])} tickets)")
          for share in c["outstanding_by_valid_until"]),
        Line("committed_expired_unspent_cents", "dont expiré sans être utilisé", c["expired_unspent_cents"], "EUR"),
    ]
    split = [
        Line("committed_pending_cents", "dont encaissé, en attente de remboursement", c["pending_cents"], "EUR"),
        Line("committed_in_payment_cents", "dont encaissé, virement en cours", c["in_payment_cents"], "EUR"),
        Line("committed_reimbursed_cents", "dont remboursé aux organismes", c["reimbursed_cents"], "EUR"),
    ]
    if c["five_parts"]:
        lines += split
    else:
        lines.append(Line("committed_redeemed_cents", f"dont encaissé au {when}", c["redeemed_cents"], "EUR"))
    lines.append(Line("committed_check", "Vérification", "vérifié" if c["holds"] else "écart", shown=c["verdict"]))
    return lines


def as_table(f: dict[str, Any]) -> Any:
    from rich.console import Group
    from rich.table import Table

    c = f["campaign"]
    figures = Table(title=f"{c['label']} — bilan de la campagne", caption=(
        f"Inscriptions du {_day(c['enrolment_opens'])} au {_day(c['enrolment_closes'])} ; Pass valables jusqu'au "
        f"{_day(c['pass_valid_until'])} ; remboursements jusqu'au {_day(c['reimbursement_deadline'])}"))
    figures.add_column("Indicateur")
    figures.add_column("Valeur", justify="right")
    for line in campaign_lines(f):
        if line.in_table:
            figures.add_row(line.label, _shown(line))
    budget = Table(title=f"Budget engagé au {_day(f['committed']['as_of'])}")
    budget.add_column("Part")
    budget.add_column("Montant", justify="right")
    for line in committed_lines(f)[1:-1]:
        budget.add_row(line.label, _shown(line))
    check = committed_lines(f)[-1]
    budget.caption = check.shown
    budget.caption_style = "bold green" if f["committed"]["holds"] else "bold red"
    schools = Table(title="Collèges")
    for column in ("Collège", "Inscriptions", "Validées", "Délai médian", "Délai max", "En attente", "Plus ancienne"):
        schools.add_column(column, justify="left" if column == "Collège" else "right")
    for s in f["schools"]:
        schools.add_row(s["name"] or s["school_id"], _number(s["applications"]), _number(s["validated"]),
                        f"{_number(s['median_days'])} j", f"{_number(s['max_days'])} j", _number(s["waiting"]),
                        f"{_number(s['oldest_waiting_days'])} j" if s["waiting"] else "–")
    return Group(figures, budget, schools)


def as_csv(f: dict[str, Any]) -> str:
    """`;`-separated, as Excel opens it in France; money in euros with a decimal comma."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(["indicateur", "libellé", "valeur", "unité"])
    for line in campaign_lines(f) + committed_lines(f):
        if not line.in_csv:
            continue
        if line.unit == "EUR":
            value: Any = _money(int(line.value or 0))
        elif line.unit == "%":
            value = "" if line.value is None else f"{100 * float(line.value):.1f}".replace(".", ",")
        elif isinstance(line.value, float):
            value = f"{line.value:.1f}".replace(".", ",")
        else:
            value = "" if line.value is None else line.value
        writer.writerow([line.key, line.label.strip(), value, "" if line.unit == "date" else line.unit])
    return "\ufeff" + out.getvalue()


def as_json(f: dict[str, Any]) -> str:
    return json.dumps(f, ensure_ascii=False, indent=2, default=str)


def _money(cents: int) -> str:
    return f"{cents / 100:.2f}".replace(".", ",")


def _day(text: str) -> str:
    return day(date.fromisoformat(text))
