"""The pending list as a `;`-separated CSV that Excel opens right (UTF-8 with BOM, CRLF)."""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from .campaign import PARIS

HEADER = (
    "N° de dossier", "Déposé le", "Nom", "Prénom", "Date de naissance", "Niveau",
    "Nom du responsable", "Prénom du responsable", "Courriel", "Téléphone",
    "Adresse", "Code postal", "Ville", "Saisie papier", "Sur la liste du collège", "État",
)
STATUS_WORDS = {
    "submitted": "en attente de validation",
    "validated": "validée",
    "rejected": "refusée",
    "wallet_ready": "porte-monnaie créé",
}
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection);
# the text typed by families must stay text.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class PendingRow:
    application_id: str
    submitted_at: datetime
    student_last_name: str
    student_first_name: str
    birth_date: date
    level: str
    guardian_last_name: str
    guardian_first_name: str
    guardian_email: str
    guardian_phone: str | None
    address_line: str
    postcode: str
    city: str
    paper: bool
    on_roster: bool
    status: str = "submitted"


def _cell(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_START) else value


def pending_csv(rows: Iterable[PendingRow]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(HEADER)
    for r in rows:
        writer.writerow(
            [
                r.application_id,
                r.submitted_at.astimezone(PARIS).strftime("%d/%m/%Y %H:%M"),
                _cell(r.student_last_name),
                _cell(r.student_first_name),
                r.birth_date.strftime("%d/%m/%Y"),
                _cell(r.level),
                _cell(r.guardian_last_name),
                _cell(r.guardian_first_name),
                _cell(r.guardian_email),
                _cell(r.guardian_phone or ""),
                _cell(r.address_line),
                r.postcode,
                _cell(r.city),
                "oui" if r.paper else "non",
                "oui" if r.on_roster else "non",
                STATUS_WORDS.get(r.status, r.status),
            ]
        )
    return codecs.BOM_UTF8 + buffer.getvalue().encode("utf-8")
