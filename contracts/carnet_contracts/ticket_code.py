"""The ticket code: what the barcode holds, what the sheet prints, what a person types.

17 random symbols (31**17 > 2**84) and one check symbol, in an alphabet of 31
symbols without 0/O, 1/I/L, so that a code read aloud or typed survives. The check
is a weighted sum modulo 31 (a prime) with weights 1..18: any single wrong symbol
and any swap of two neighbours changes the sum, so both are always caught.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
BASE = len(ALPHABET)  # 31, prime: every non-zero weight and difference is invertible
RANDOM_LENGTH = 17
CODE_LENGTH = RANDOM_LENGTH + 1
GROUP_SIZE = 6
DISPLAY_SUFFIX_LENGTH = 4

_VALUE = {symbol: value for value, symbol in enumerate(ALPHABET)}
_IGNORED = str.maketrans("", "", " -\t\u00a0")


class MalformedTicketCode(ValueError):
    """The text cannot be a ticket code: wrong length, foreign symbol or failed check."""


def _weighted_sum(symbols: str) -> int:
    return sum(_VALUE[s] * weight for weight, s in enumerate(symbols, start=1))


def check_symbol(body: str) -> str:
    """The symbol that makes the weighted sum of body + symbol a multiple of 31."""
    weight = len(body) + 1
    remainder = _weighted_sum(body) % BASE
    # find c with remainder + c * weight == 0 (mod 31)
    value = (-remainder * pow(weight, -1, BASE)) % BASE
    return ALPHABET[value]


def generate() -> str:
    """A new canonical code from the operating system's cryptographic source."""
    body = "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_LENGTH))
    return body + check_symbol(body)


def parse(text: str) -> str:
    """The canonical code for what was typed or scanned; case, spaces and dashes do not matter."""
    code = text.translate(_IGNORED).upper()
    if len(code) != CODE_LENGTH:
        raise MalformedTicketCode(f"a ticket code has {CODE_LENGTH} symbols, got {len(code)}")
    foreign = [s for s in code if s not in _VALUE]
    if foreign:
        raise MalformedTicketCode("the code holds symbols that are not in the ticket alphabet")
    if _weighted_sum(code) % BASE != 0:
        raise MalformedTicketCode("the check symbol does not match: a symbol was mistyped")
    return code


def format_groups(code: str) -> str:
    """The code as printed for people: groups of six separated by dashes."""
    canonical = parse(code)
    return "-".join(canonical[i : i + GROUP_SIZE] for i in range(0, CODE_LENGTH, GROUP_SIZE))


def display_suffix(code: str) -> str:
    """The last symbols, enough for a person to recognise a ticket, never enough to use it."""
    return parse(code)[-DISPLAY_SUFFIX_LENGTH:]


def code_hash(code: str, key: bytes) -> str:
    """The keyed hash that travels on Kafka instead of the code (HMAC-SHA256, hex).

    The key is a secret shared by the wallet and redemption services only.
    """
    return hmac.new(key, parse(code).encode("ascii"), hashlib.sha256).hexdigest()
