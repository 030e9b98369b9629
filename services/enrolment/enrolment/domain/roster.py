"""The school's student list (Roster) as Excel or LibreOffice export it, and its matching.

Four `;`-separated fields: last name, first name, birth date, level. With or without a header
row, UTF-8 with or without BOM or cp1252, dd/mm/yyyy or yyyy-mm-dd, stray spaces and empty
lines. Every bad line is reported with its number as a text editor shows it (first line is 1,
header included) and a French reason; no line aborts the file. A line holding a control or
bidirectional formatting character (a NUL byte, U+202E...) is such a bad line. A file of more
lines than a school has pupils is refused whole (ROSTER_TOO_LARGE) before any line is read.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from email import message_from_bytes, policy

from carnet_runtime import Refusal
from carnet_runtime.text import unsafe_character

from .application import Student, StudentKey
from .text import COLLEGE_LEVELS, fold_name, levels_in_words, normalise_level, parse_day, tidy_name

FIELDS = ("nom", "prénom", "date de naissance", "niveau")
_MISSING = ("nom manquant", "prénom manquant", "date de naissance manquante", "niveau manquant")
_LINE_BREAK = re.compile(rb"\r\n|\r|\n")
_HEADER_WORDS = {"nom", "prenom", "prenoms", "naissance", "date", "niveau", "classe", "eleve", "name", "level", "birth"}
_UNREADABLE = "caractères illisibles : enregistrer le fichier en « CSV UTF-8 » ou « CSV (séparateur : point-virgule) »"


@dataclass(frozen=True)
class RosterEntry(Student):
    """A student as the school's list gives them, with the number of the line they stand on."""

    line: int = field(kw_only=True)


@dataclass(frozen=True)
class RejectedLine:
    line: int
    reason: str


@dataclass(frozen=True)
class Roster:
    entries: tuple[RosterEntry, ...]
    rejected: tuple[RejectedLine, ...]
    encoding: str
    header_line: int | None = None
    keys: frozenset[StudentKey] = field(default=frozenset(), compare=False)

    def matching(self, applications: Iterable[tuple[str, StudentKey]]) -> list[str]:
        """The ids of the applications whose student is on this roster, in the order given."""
        return [application_id for application_id, key in applications if key in self.keys]


def _decoded_lines(data: bytes) -> tuple[str, list[tuple[int, str | None]]]:
    """The file's lines numbered from 1, each decoded, or None when it cannot be read.

    The encoding is decided per line: a file is UTF-8 unless a line is not, and then that line
    is cp1252 (what Excel writes for "CSV (séparateur : point-virgule)" on a French Windows).
    """
    if data.startswith(codecs.BOM_UTF16_LE) or data.startswith(codecs.BOM_UTF16_BE):
        text = data.decode("utf-16", errors="replace")
        lines = re.split(r"\r\n|\r|\n", text)
        return "utf-16", [(n, None if "\ufffd" in t else t) for n, t in enumerate(lines, start=1)]
    with_bom = data.startswith(codecs.BOM_UTF8)
    if with_bom:
        data = data[len(codecs.BOM_UTF8):]
    numbered: list[tuple[int, str | None]] = []
    used_cp1252 = False
    for number, raw in enumerate(_LINE_BREAK.split(data), start=1):
        try:
            numbered.append((number, raw.decode("utf-8")))
            continue
        except UnicodeDecodeError:
            pass
        if with_bom:
            numbered.append((number, None))
            continue
        try:
            numbered.append((number, raw.decode("cp1252")))
            used_cp1252 = True
        except UnicodeDecodeError:
            numbered.append((number, None))
    encoding = "utf-8-sig" if with_bom else ("cp1252" if used_cp1252 else "utf-8")
    return encoding, numbered


def _fields(line: str) -> list[str]:
    raw = next(csv.reader([line], delimiter=";")) if '"' in line else line.split(";")
    fields = [f.strip() for f in raw]
    while len(fields) > len(FIELDS) and not fields[-1]:
        fields.pop()
    return fields


def _looks_like_header(fields: list[str]) -> bool:
    if len(fields) >= 3 and parse_day(fields[2]) is not None:
        return False
    words = set(" ".join(fold_name(f) for f in fields).replace("'", " ").split())
    return bool(words & _HEADER_WORDS)


def _read_line(number: int, fields: list[str], levels: tuple[str, ...]) -> RosterEntry | str:
    """The entry on that line, or the reason it is refused."""
    if len(fields) == 1:
        line = fields[0]
        for separator, name in ((",", "virgule"), ("\t", "tabulation")):
            if separator in line:
                return f"séparateur « {name} » au lieu du point-virgule « ; »"
    unsafe = next((c for c in map(unsafe_character, fields) if c is not None), None)
    if unsafe is not None:
        return f"caractère de contrôle ou de sens d'écriture U+{ord(unsafe):04X} interdit : retaper la ligne"
    if len(fields) > len(FIELDS):
        return f"{len(fields)} champs au lieu de 4 (nom ; prénom ; date de naissance ; niveau)"
    fields = fields + [""] * (len(FIELDS) - len(fields))
    reasons = [missing for value, missing in zip(fields, _MISSING) if not value]
    last_name, first_name, birth_text, level_text = fields
    birth_date = parse_day(birth_text) if birth_text else None
    if birth_text and birth_date is None:
        reasons.append(f"date de naissance « {birth_text} » invalide : attendu jj/mm/aaaa")
    level = normalise_level(level_text) if level_text else ""
    if level_text and level not in levels:
        reasons.append(f"niveau « {level_text} » non reconnu : attendu {levels_in_words(levels)}")
    if reasons:
        return " ; ".join(reasons)
    assert birth_date is not None
    return RosterEntry(tidy_name(last_name), tidy_name(first_name), birth_date, level, line=number)


def parse_roster(data: bytes, levels: tuple[str, ...] = COLLEGE_LEVELS) -> Roster:
    """Reads a roster file; never raises on its content."""
    encoding, lines = _decoded_lines(data)
    entries: list[RosterEntry] = []
    rejected: list[RejectedLine] = []
    first_line_of: dict[StudentKey, int] = {}
    header_line: int | None = None
    seen_content = False
    for number, line in lines:
        if line is None:
            rejected.append(RejectedLine(number, _UNREADABLE))
            seen_content = True
            continue
        fields = _fields(line)
        if not any(fields):
            continue
        if not seen_content:
            if fold_name(line).replace(" ", "").strip('"') == "sep=;":
                continue
            seen_content = True
            if _looks_like_header(fields):
                header_line = number
                continue
        result = _read_line(number, fields, levels)
        if isinstance(result, str):
            rejected.append(RejectedLine(number, result))
            continue
        key = result.key
        previous = first_line_of.get(key)
        if previous is not None:
            rejected.append(RejectedLine(number, f"élève déjà présent ligne {previous}"))
            continue
        first_line_of[key] = number
        entries.append(result)
    return Roster(tuple(entries), tuple(rejected), encoding, header_line, frozenset(first_line_of))


def line_count(data: bytes) -> int:
    """The number of lines a text editor shows for `data` (CRLF, LF or CR line breaks)."""
    breaks = data.count(b"\n") + data.count(b"\r") - data.count(b"\r\n")
    return breaks + (0 if not data or data.endswith((b"\n", b"\r")) else 1)


def uploaded_file(body: bytes, content_type: str) -> bytes:
    """The CSV itself: the body, or the first file of a form upload (multipart/form-data), as a
    school portal's upload form sends it."""
    if not content_type.lower().startswith("multipart/form-data"):
        return body
    message = message_from_bytes(b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body,
                                 policy=policy.HTTP)
    if not message.is_multipart():
        return b""
    parts = list(message.iter_parts())
    chosen = next((p for p in parts if p.get_filename()), parts[0] if parts else None)
    payload = chosen.get_payload(decode=True) if chosen is not None else None
    return payload if isinstance(payload, bytes) else b""


def read_roster(body: bytes, content_type: str, levels: tuple[str, ...], max_lines: int) -> Roster:
    """The roster a correspondent sent (the body, or the file of an upload form): refused whole when
    it has more than `max_lines` lines, else read line by line. CPU-bound: run it off the event loop."""
    data = uploaded_file(body, content_type)
    lines = line_count(data)
    if lines > max_lines:
        raise Refusal(
            "ROSTER_TOO_LARGE",
            f"Le fichier compte {lines} lignes : la liste des élèves d'un collège en compte {max_lines} au plus. "
            "Vérifiez que c'est bien la liste des élèves du collège.",
            {"lines": lines, "max_lines": max_lines},
        )
    return parse_roster(data, levels)
