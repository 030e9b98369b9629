"""Text a person typed, made safe to store and to show again in e-mails, PDFs and CSV files.

Refused (422 VALIDATION_ERROR naming the field): control characters (a NUL byte breaks PostgreSQL,
a line break forges a CSV row or an e-mail header), lone surrogates (not encodable) and the
bidirectional formatting characters that make a name or an IBAN read differently from what it is
(U+202E "right-to-left override" and its kin). Request models use `PlainText` for single-line fields
and `MultilineText` for free text where line breaks are legitimate (a broadcast's body).
"""

from __future__ import annotations

import unicodedata
from typing import Annotated

from pydantic import AfterValidator

_BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_LINE_BREAKS = frozenset("\n\r\t")


def unsafe_character(value: str, *, multiline: bool = False) -> str | None:
    """The first character of `value` that must not be stored, or None."""
    for char in value:
        if multiline and char in _LINE_BREAKS:
            continue
        if char in _BIDI_CONTROLS or char in "\ufffe\uffff" or unicodedata.category(char) in ("Cc", "Cs"):
            return char
    return None


def _check(value: str, multiline: bool) -> str:
    char = unsafe_character(value, multiline=multiline)
    if char is not None:
        raise ValueError(f"control or bidirectional character U+{ord(char):04X} is not allowed")
    return value


def plain_text(value: str) -> str:
    return _check(value, multiline=False)


def multiline_text(value: str) -> str:
    return _check(value, multiline=True)


PlainText = Annotated[str, AfterValidator(plain_text)]
MultilineText = Annotated[str, AfterValidator(multiline_text)]
