"""One pass per student per campaign: the same student typed differently is one student."""

from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from enrolment.domain import StudentKey, fold_name

FIRST_NAMES = ["Jean-Pierre", "Élodie", "Loïc", "Anaïs", "Noël", "François", "Hélène", "Marie Ève", "Zoé", "Chloé"]
LAST_NAMES = ["Dupont", "Le Guen", "Lefèvre", "Saint-Exupéry", "Müller", "Çelik", "Benoît-Lévêque", "Œuvrard"]
ACCENTED = {"é": "e", "è": "e", "ê": "e", "ë": "e", "ï": "i", "î": "i", "ç": "c", "ü": "u", "û": "u", "ô": "o"}


@st.composite
def spelling(draw: st.DrawFn, name: str) -> str:
    """The name as another person might type it: case, accents, hyphens and spaces changed."""
    out = []
    for char in name:
        if char in "- ":
            sep = draw(st.sampled_from(["-", " ", "  ", " - ", "\u2011", "\u00a0"]))
            out.append(sep)
            continue
        if char.lower() in ACCENTED and draw(st.booleans()):
            char = ACCENTED[char.lower()]
        if char == "Œ" and draw(st.booleans()):
            char = "OE"
        out.append(char.upper() if draw(st.booleans()) else char.lower())
    padding = draw(st.sampled_from(["", " ", "  ", "\t"]))
    return padding + "".join(out) + draw(st.sampled_from(["", " ", "   "]))


@st.composite
def two_spellings(draw: st.DrawFn) -> tuple[tuple[str, str], tuple[str, str]]:
    last = draw(st.sampled_from(LAST_NAMES))
    first = draw(st.sampled_from(FIRST_NAMES))
    return (draw(spelling(last)), draw(spelling(first))), (draw(spelling(last)), draw(spelling(first)))


birth_dates = st.dates(min_value=date(2000, 1, 1), max_value=date(2020, 12, 31))


@settings(max_examples=150)
@given(two_spellings(), birth_dates)
def test_same_student_spelled_differently_has_the_same_key(pair, born):
    (last_a, first_a), (last_b, first_b) = pair
    assert StudentKey.of(last_a, first_a, born) == StudentKey.of(last_b, first_b, born)


@settings(max_examples=80)
@given(two_spellings(), birth_dates, birth_dates)
def test_a_different_birth_date_is_a_different_student(pair, born_a, born_b):
    (last_a, first_a), (last_b, first_b) = pair
    same = StudentKey.of(last_a, first_a, born_a) == StudentKey.of(last_b, first_b, born_b)
    assert same == (born_a == born_b)


@settings(max_examples=80)
@given(st.sampled_from(LAST_NAMES), st.sampled_from(FIRST_NAMES), st.sampled_from(FIRST_NAMES), birth_dates)
def test_different_first_names_are_different_students(last, first_a, first_b, born):
    same = StudentKey.of(last, first_a, born) == StudentKey.of(last, first_b, born)
    assert same == (first_a == first_b)


latin_text = st.text(
    alphabet=st.characters(max_codepoint=0x24F, categories=("Lu", "Ll", "Zs", "Pd")), max_size=30
)


@settings(max_examples=150)
@given(latin_text)
def test_folding_twice_changes_nothing(name):
    assert fold_name(fold_name(name)) == fold_name(name)


@given(latin_text)
def test_folded_name_has_no_capital_no_double_space_no_hyphen(name):
    folded = fold_name(name)
    assert folded == folded.lower()
    assert "  " not in folded and "-" not in folded
    assert folded == folded.strip()


def test_first_and_last_names_are_not_interchangeable():
    born = date(2012, 3, 4)
    assert StudentKey.of("Martin", "Paul", born) != StudentKey.of("Paul", "Martin", born)


def test_ligature_and_typographic_apostrophe_fold_like_their_plain_spelling():
    assert fold_name("Œuvrard") == fold_name("OEUVRARD")
    assert fold_name("N’Diaye") == fold_name("n'diaye")
