"""How people's text is compared and shown: name folding, French dates, collège levels."""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from functools import lru_cache

# Dashes and apostrophes people type or paste from word processors.
_DASHES = "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u00ad_"
_APOSTROPHES = "\u2019\u2018\u02bc\u00b4`"
_FOLD_TABLE = str.maketrans(
    {**{d: " " for d in _DASHES}, **{a: "'" for a in _APOSTROPHES}, "œ": "oe", "æ": "ae", "ø": "o", "ł": "l", "đ": "d"}
)


@lru_cache(maxsize=65536)
def fold_name(name: str) -> str:
    """A name as compared: no case, no accents, hyphens as spaces, single spaces.

    "Jean-Pierre", "JEAN  PIERRE" and "jéan pierre" fold to the same text, so that one student
    typed two ways by two people is recognised as one student.
    """
    # Compatibility forms decompose to letters that casefold must still see, hence strip then fold.
    lowered = _strip_marks(_strip_marks(name).casefold().translate(_FOLD_TABLE))
    return " ".join(lowered.split())


def _strip_marks(text: str) -> str:
    if text.isascii():
        return text
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def tidy_name(name: str) -> str:
    """A name as stored and shown: what the person typed, without stray spaces."""
    return " ".join(name.split())


_MONTHS = (
    "janvier", "février", "mars", "avril", "mai", "juin",
    "juillet", "août", "septembre", "octobre", "novembre", "décembre",
)


def french_date(day: date) -> str:
    """'1er juin 2014', '30 novembre 2014': the way the département writes its calendar."""
    number = "1er" if day.day == 1 else str(day.day)
    return f"{number} {_MONTHS[day.month - 1]} {day.year}"


_DMY = re.compile(r"(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4}|\d{2})(?:[ T]\d{1,2}:\d{2}(?::\d{2})?)?")
_YMD = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2})?)?")


def parse_day(text: str) -> date | None:
    """A calendar day written dd/mm/yyyy (also d/m/yy, dd.mm.yyyy, dd-mm-yyyy) or yyyy-mm-dd.

    Spreadsheets append a midnight time to dates they export; it is ignored. A two-digit year is
    read in the 2000s, where collégiens are born. None when the text is no real day.
    """
    text = text.strip()
    match = _YMD.fullmatch(text)
    if match:
        year, month, day = (int(g) for g in match.groups())
    else:
        match = _DMY.fullmatch(text)
        if not match:
            return None
        day, month, year = (int(g) for g in match.groups())
        if len(match.group(3)) == 2:
            year += 2000
    try:
        return date(year, month, day)
    except ValueError:
        return None


COLLEGE_LEVELS = ("6e", "5e", "4e", "3e")
_ORDINAL = r"(?:e|eme|ieme|em|me|°|o)?"
_LEVEL = re.compile(r"(\d{1,2})" + _ORDINAL)
# School software exports the class rather than the level: '6A', '6ème B', '5e2', '61'.
_CLASS = re.compile(r"([3-6])" + _ORDINAL + r"(?:[a-z]{1,2}\d{0,2}|\d{1,2})")


@lru_cache(maxsize=1024)
def normalise_level(text: str) -> str:
    """'6e' for '6', '6E', '6ème', '6eme', '6°' and for a class of that level ('6A', '6ème B',
    '5e2', '61'); other text comes back tidied, to be refused by the caller."""
    tidy = " ".join(text.split())
    folded = fold_name(tidy).replace(" ", "")
    match = _CLASS.fullmatch(folded) or _LEVEL.fullmatch(folded)
    if match:
        return f"{int(match.group(1))}e"
    return tidy


def levels_in_words(levels: tuple[str, ...] | list[str]) -> str:
    """'6e, 5e, 4e ou 3e'."""
    levels = list(levels)
    if len(levels) <= 1:
        return "".join(levels)
    return ", ".join(levels[:-1]) + " ou " + levels[-1]
