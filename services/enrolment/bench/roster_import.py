"""Benchmark: reading and matching a 5,000-line roster, against plain csv parsing of the same file.

    uv run python services/enrolment/bench/roster_import.py [--lines 5000] [--repeat 5]

Prints lines per second for the roster import (decode, fields, dates, levels, duplicate keys,
matching against as many submitted applications) and for the baseline (cp1252 decode and
csv.reader, nothing checked), both measured in this run, and their ratio.
"""

from __future__ import annotations

import argparse
import csv
import io
import random
import time
from datetime import date, timedelta

from enrolment.domain import StudentKey, fold_name, parse_roster

LAST = ["Lefèvre", "Martin", "Bernard", "Çelik", "Dupont", "Le Guen", "Müller", "Saint-Exupéry", "Petit", "Durand"]
FIRST = ["Anaïs", "Noël", "Zoé", "Jean-Pierre", "Hélène", "Loïc", "Inès", "Chloé", "Hugo", "Léa"]
LEVELS = ["6e", "5ème", "4E", "3e"]


def roster_file(lines: int, seed: int = 7) -> tuple[bytes, list[tuple[str, StudentKey]]]:
    rng = random.Random(seed)
    rows = ["Nom;Prénom;Date de naissance;Niveau"]
    applications = []
    for n in range(lines - 1):
        last = f"{rng.choice(LAST)} {n}"
        first = rng.choice(FIRST)
        born = date(2000, 1, 1) + timedelta(days=rng.randrange(3000))
        if n % 50 == 0:
            rows.append(f"{last};{first};31/02/2003;{rng.choice(LEVELS)}")
        elif n % 97 == 0:
            rows.append("")
        else:
            rows.append(f" {last} ; {first} ;{born:%d/%m/%Y};{rng.choice(LEVELS)}")
        applications.append((f"app-{n}", StudentKey.of(last.upper(), first, born if n % 2 else born + timedelta(days=1))))
    return "\r\n".join(rows).encode("cp1252"), applications


def baseline(data: bytes) -> int:
    return sum(1 for _ in csv.reader(io.StringIO(data.decode("cp1252")), delimiter=";"))


def import_roster(data: bytes, applications: list[tuple[str, StudentKey]]) -> int:
    fold_name.cache_clear()  # a cold cache, as for a school's first import
    roster = parse_roster(data)
    roster.matching(applications)
    return len(roster.entries) + len(roster.rejected)


def best_of(repeat: int, work) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    data, applications = roster_file(args.lines)
    roster = parse_roster(data)
    base = best_of(args.repeat, lambda: baseline(data))
    ours = best_of(args.repeat, lambda: import_roster(data, applications))
    print(f"roster: {args.lines} lines, {len(data)} bytes, {len(roster.entries)} imported, "
          f"{len(roster.rejected)} rejected, {len(roster.matching(applications))} matched")
    print(f"baseline csv.reader : {args.lines / base:12,.0f} lines/s ({base * 1000:.1f} ms)")
    print(f"roster import       : {args.lines / ours:12,.0f} lines/s ({ours * 1000:.1f} ms)")
    print(f"ratio import/baseline time: {ours / base:.1f}x")


if __name__ == "__main__":
    main()
