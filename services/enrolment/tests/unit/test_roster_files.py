"""The roster parser on files saved by Excel (French Windows, cp1252) and LibreOffice (UTF-8 with BOM)."""

from datetime import date
from pathlib import Path

from enrolment.domain import parse_roster

FILES = Path(__file__).parent / "rosters"


def test_excel_french_csv_in_cp1252():
    roster = parse_roster((FILES / "excel_fr_cp1252.csv").read_bytes())
    assert roster.encoding == "cp1252" and roster.header_line == 1
    assert [(e.line, e.last_name, e.first_name, e.birth_date, e.level) for e in roster.entries] == [
        (2, "LEFÈVRE", "Anaïs", date(2003, 5, 14), "6e"),
        (3, "Çelik", "Noël", date(2002, 2, 1), "5e"),
        (7, "Œuvrard", "Chloé", date(2001, 11, 7), "3e"),
        (8, "N'Diaye", "Aïssatou", date(2002, 9, 3), "4e"),
    ]
    assert [(r.line, r.reason) for r in roster.rejected] == [
        (5, "date de naissance « 30/02/2002 » invalide : attendu jj/mm/aaaa"),
        (6, "date de naissance manquante"),
    ]


def test_libreoffice_csv_in_utf8_with_bom_and_no_header():
    roster = parse_roster((FILES / "libreoffice_utf8_bom.csv").read_bytes())
    assert roster.encoding == "utf-8-sig" and roster.header_line is None
    assert [(e.line, e.last_name, e.first_name, e.level) for e in roster.entries] == [
        (1, "Martin", "Paul", "6e"),
        (3, "Le Guen", "Marie; dite Mimi", "5e"),
        (8, "Simon", "Zoé", "3e"),
    ]
    assert [(r.line, r.reason) for r in roster.rejected] == [
        (4, "date de naissance « 2002-13-03 » invalide : attendu jj/mm/aaaa"),
        (5, "niveau manquant"),
        (6, "niveau « 2nde » non reconnu : attendu 6e, 5e, 4e ou 3e"),
    ]
