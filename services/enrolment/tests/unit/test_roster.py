"""The roster parser on files as Excel and LibreOffice write them."""

import codecs
from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from enrolment.domain import StudentKey, parse_roster


def reasons(roster):
    return {r.line: r.reason for r in roster.rejected}


def test_cp1252_file_with_accents_from_excel_is_read():
    text = "Nom;Prénom;Date de naissance;Niveau\r\nLefèvre;Anaïs;14/05/2003;6e\r\nÇelik;Noël;01/02/2002;5ème\r\n"
    roster = parse_roster(text.encode("cp1252"))
    assert roster.encoding == "cp1252"
    assert roster.header_line == 1
    assert [(e.line, e.last_name, e.first_name, e.birth_date, e.level) for e in roster.entries] == [
        (2, "Lefèvre", "Anaïs", date(2003, 5, 14), "6e"),
        (3, "Çelik", "Noël", date(2002, 2, 1), "5e"),
    ]
    assert roster.rejected == ()


def test_utf8_file_with_bom_and_no_header_is_read():
    text = "Lefèvre;Anaïs;2003-05-14;6e\nMüller;Zoé;2001-12-31;3e\n"
    roster = parse_roster(codecs.BOM_UTF8 + text.encode("utf-8"))
    assert roster.encoding == "utf-8-sig"
    assert roster.header_line is None
    assert [e.first_name for e in roster.entries] == ["Anaïs", "Zoé"]
    assert [e.line for e in roster.entries] == [1, 2]


def test_plain_utf8_file_is_read():
    roster = parse_roster("Dupont;Jean-Pierre;03/04/2003;4e".encode())
    assert roster.encoding == "utf-8"
    assert len(roster.entries) == 1


def test_a_file_with_every_defect_reports_each_bad_line_and_imports_the_good_ones():
    lines = [
        "NOM ; PRENOM ; DATE NAISSANCE ; NIVEAU",  # 1 header
        "  Lefèvre ;  Anaïs  ; 14/05/2003 ; 6e ",  # 2 stray spaces
        "",  # 3 blank
        "Martin;Paul;31/02/2003;5e",  # 4 impossible date
        "Bernard;;12/03/2002;4e",  # 5 missing first name
        "Petit;Léa;2002-03-12",  # 6 missing level
        ";;;",  # 7 empty row as Excel writes it: blank
        "Durand;Hugo;12.03.2002;CM2",  # 8 level not a collège level
        "Roux,Emma,12/03/2002,3e",  # 9 wrong separator
        "Moreau;Lucas;2002/13/40;3e",  # 10 unreadable date
        "Simon;Chloé;12/03/2002;3e;extra",  # 11 too many fields
        "   ",  # 12 blank
        "Laurent;Inès;5/3/2002;3e;;",  # 13 short date and trailing separators
        "LEFEVRE;anais;14/05/2003;6e",  # 14 the same student as line 2
        "",
    ]
    roster = parse_roster("\r\n".join(lines).encode("cp1252"))
    assert [e.line for e in roster.entries] == [2, 13]
    assert roster.entries[0].last_name == "Lefèvre" and roster.entries[0].first_name == "Anaïs"
    assert roster.entries[1].birth_date == date(2002, 3, 5)
    got = reasons(roster)
    assert sorted(got) == [4, 5, 6, 8, 9, 10, 11, 14]
    assert "date de naissance « 31/02/2003 » invalide" in got[4]
    assert got[5] == "prénom manquant"
    assert got[6] == "niveau manquant"
    assert "niveau « CM2 » non reconnu" in got[8]
    assert "point-virgule" in got[9]
    assert "invalide" in got[10]
    assert "5 champs au lieu de 4" in got[11]
    assert got[14] == "élève déjà présent ligne 2"


def test_line_numbers_count_lines_as_an_editor_does_whatever_the_line_ends():
    for newline in ("\n", "\r\n", "\r"):
        text = newline.join(["Nom;Prénom;Date;Niveau", "", "Martin;Paul;xx;5e", "Petit;Léa;12/03/2002;4e"])
        roster = parse_roster(text.encode())
        assert [(r.line) for r in roster.rejected] == [3], newline
        assert [e.line for e in roster.entries] == [4]


def test_quoted_fields_as_excel_writes_them_are_unquoted():
    roster = parse_roster(b'"Le Guen";"Marie; dite Mimi";"03/04/2003";"6e"\n')
    assert roster.entries[0].first_name == "Marie; dite Mimi"


def test_excel_separator_directive_line_is_skipped_before_the_header():
    roster = parse_roster(b"sep=;\nNom;Prenom;Naissance;Niveau\nMartin;Paul;03/04/2003;5e\n")
    assert roster.header_line == 2 and roster.rejected == ()
    assert len(roster.entries) == 1


def test_a_line_mixing_encodings_is_read_line_by_line():
    data = "Lefèvre;Anaïs;14/05/2003;6e\n".encode() + "Çelik;Noël;01/02/2002;5e\n".encode("cp1252")
    roster = parse_roster(data)
    assert [e.first_name for e in roster.entries] == ["Anaïs", "Noël"]


def test_an_unreadable_line_is_reported_not_fatal():
    data = codecs.BOM_UTF8 + b"Martin;Paul;03/04/2003;5e\nPetit;L\xe9a;12/03/2002;4e\n"
    roster = parse_roster(data)
    assert len(roster.entries) == 1
    assert roster.rejected[0].line == 2 and "illisibles" in roster.rejected[0].reason


def test_empty_file_imports_nothing_and_rejects_nothing():
    assert parse_roster(b"").entries == () and parse_roster(b"").rejected == ()


def test_matching_lists_the_applications_whose_student_is_on_the_roster():
    roster = parse_roster("Lefèvre;Anaïs;14/05/2003;6e\nMartin;Paul;03/04/2003;5e\n".encode())
    apps = [
        ("a1", StudentKey.of("LEFEVRE", "anaïs", date(2003, 5, 14))),
        ("a2", StudentKey.of("Martin", "Paul", date(2003, 4, 4))),
        ("a3", StudentKey.of("Martin", "Paul", date(2003, 4, 3))),
    ]
    assert roster.matching(apps) == ["a1", "a3"]


@settings(max_examples=60)
@given(st.binary(max_size=400))
def test_no_file_content_makes_the_parser_raise(data):
    roster = parse_roster(data)
    lines = {r.line for r in roster.rejected} | {e.line for e in roster.entries}
    assert len(lines) == len(roster.rejected) + len(roster.entries)


names = st.text(alphabet="abcdeéèçàïôABCÉ -'", min_size=1, max_size=12).filter(lambda s: s.strip(" -'"))


@settings(max_examples=60)
@given(
    st.lists(st.tuples(names, names, st.dates(date(1998, 1, 1), date(2008, 12, 31)), st.sampled_from(["6e", "5e", "4e", "3e"])), max_size=15),
    st.sampled_from(["utf-8", "utf-8-sig", "cp1252"]),
    st.sampled_from(["\n", "\r\n"]),
)
def test_every_written_student_is_read_back_once(students, encoding, newline):
    text = newline.join(f"{a};{b};{d:%d/%m/%Y};{lv}" for a, b, d, lv in students)
    roster = parse_roster(text.encode(encoding))
    distinct = {StudentKey.of(a, b, d) for a, b, d, _ in students}
    assert roster.keys == distinct
    assert len(roster.entries) + len(roster.rejected) == len(students)
