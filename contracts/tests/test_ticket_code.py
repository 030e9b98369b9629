"""The ticket code format: what the wallet prints is exactly what the redemption service parses."""

import math
import random
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carnet_contracts import ticket_code
from carnet_contracts.ticket_code import (
    ALPHABET,
    CODE_LENGTH,
    MalformedTicketCode,
    code_hash,
    display_suffix,
    format_groups,
    generate,
    parse,
)

# A fixed sample of valid codes so that the exhaustive checks below are reproducible.
_SAMPLE = random.Random(20141130)
SAMPLE_CODES = [
    body + ticket_code.check_symbol(body)
    for body in ("".join(_SAMPLE.choice(ALPHABET) for _ in range(CODE_LENGTH - 1)) for _ in range(40))
] + [generate() for _ in range(10)]


def test_generated_codes_have_the_canonical_form():
    for _ in range(200):
        code = generate()
        assert len(code) == CODE_LENGTH
        assert set(code) <= set(ALPHABET)
        assert parse(code) == code


def test_random_codes_round_trip_through_printed_groups_and_parsing():
    for _ in range(200):
        code = generate()
        printed = format_groups(code)
        assert "-" in printed
        assert parse(printed) == code
        assert parse(printed.lower()) == code


@given(st.text(alphabet=ALPHABET, min_size=CODE_LENGTH - 1, max_size=CODE_LENGTH - 1))
@settings(max_examples=200)
def test_any_body_with_its_check_symbol_round_trips(body):
    code = body + ticket_code.check_symbol(body)
    assert parse(code) == code
    assert parse(format_groups(code)) == code


def test_the_alphabet_has_no_symbols_people_confuse():
    for confusable in "0O1IL":
        assert confusable not in ALPHABET
    assert len(set(ALPHABET)) == len(ALPHABET)


@pytest.mark.parametrize("code", SAMPLE_CODES)
def test_every_single_character_substitution_is_rejected(code):
    for index in range(CODE_LENGTH):
        for symbol in ALPHABET:
            if symbol == code[index]:
                continue
            mistyped = code[:index] + symbol + code[index + 1 :]
            with pytest.raises(MalformedTicketCode):
                parse(mistyped)


@pytest.mark.parametrize("code", SAMPLE_CODES)
def test_every_adjacent_transposition_is_rejected(code):
    for index in range(CODE_LENGTH - 1):
        if code[index] == code[index + 1]:
            continue  # swapping two equal symbols gives the same code back
        swapped = code[:index] + code[index + 1] + code[index] + code[index + 2 :]
        with pytest.raises(MalformedTicketCode):
            parse(swapped)


def test_parsing_ignores_case_spaces_and_dashes():
    code = generate()
    grouped = format_groups(code)
    variants = [
        code.lower(),
        grouped,
        grouped.lower(),
        grouped.replace("-", " "),
        " ".join(code),
        "-".join(code.lower()),
        f"  {code[:5]} - {code[5:11].lower()}--{code[11:]}  ",
    ]
    for typed in variants:
        assert parse(typed) == code


@pytest.mark.parametrize(
    "typed",
    ["", "ABC", "2" * (CODE_LENGTH + 1), "0" * CODE_LENGTH, "O" * CODE_LENGTH, "Ü" * CODE_LENGTH],
)
def test_text_that_cannot_be_a_code_is_malformed(typed):
    with pytest.raises(MalformedTicketCode):
        parse(typed)


def test_the_random_part_holds_at_least_80_bits():
    random_symbols = CODE_LENGTH - 1
    assert random_symbols * math.log2(len(ALPHABET)) >= 80


def test_generated_codes_use_every_symbol_evenly_and_never_repeat():
    codes = [generate() for _ in range(3000)]
    assert len(set(codes)) == len(codes)
    counts = Counter(symbol for code in codes for symbol in code[:-1])
    expected = sum(counts.values()) / len(ALPHABET)
    assert set(counts) == set(ALPHABET)
    # 51,000 draws over 31 symbols: a fair source stays well within 15 % of the mean
    assert all(abs(n - expected) < 0.15 * expected for n in counts.values())


def test_display_suffix_is_the_last_symbols_only():
    code = generate()
    suffix = display_suffix(format_groups(code).lower())
    assert code.endswith(suffix)
    assert len(suffix) < CODE_LENGTH // 2


def test_code_hash_is_keyed_and_ignores_how_the_code_was_typed():
    code = generate()
    key = b"shared-by-wallet-and-redemption"
    digest = code_hash(code, key)
    assert digest == code_hash(format_groups(code).lower(), key)
    assert digest != code_hash(code, b"another key")
    assert code not in digest
    with pytest.raises(MalformedTicketCode):
        code_hash(code[:-1], key)
