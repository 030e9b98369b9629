"""Benchmark: reading and matching a 5,000-line roster, against plain csv parsing of the same file.

    uv run python services/enrolment/bench/roster_import.py [--lines 5000] [--repeat 5]
    uv run python services/enrolment/bench/roster_import.py --url http://127.0.0.1:8001   # a running service

Prints lines per second for the roster import (decode, fields, dates, levels, duplicate keys,
matching against as many submitted applications) and for the baseline (cp1252 decode and
csv.reader, nothing checked), both measured in this run, and their ratio. With --url, it also
times the whole import through the running service (HTTP, parsing, PostgreSQL), signing its
tokens with the local gateway key ($CARNET_HOME/keys/gateway.pem).
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import random
import time
from datetime import date, timedelta
from pathlib import Path

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


def through_service(url: str, data: bytes, repeat: int, keys_dir: Path) -> float:
    import httpx

    from carnet_runtime.auth import TokenSigner

    signer = TokenSigner(keys_dir / "gateway.pem")
    school_id = "BENCH0001"
    admin = {"Authorization": f"Bearer {signer.sign(sub='bench-admin', role='admin')}"}
    correspondent = {
        "Authorization": f"Bearer {signer.sign(sub='bench-correspondent', role='correspondent', school_id=school_id)}",
        "Content-Type": "text/csv",
    }
    with httpx.Client(base_url=url, timeout=60) as client:
        client.put(f"/v1/schools/{school_id}", headers=admin,
                   json={"name": "Collège de mesure", "postcode": "92100", "city": "Boulogne-Billancourt"}).raise_for_status()

        def post() -> None:
            client.post(f"/v1/schools/{school_id}/roster", headers=correspondent, content=data).raise_for_status()

        return best_of(repeat, post)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--url", help="also import through this running enrolment service")
    parser.add_argument("--keys-dir", type=Path, default=Path(os.environ.get("CARNET_HOME", ".carnet")) / "keys")
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
    if args.url:
        served = through_service(args.url, data, args.repeat, args.keys_dir)
        print(f"through the service : {args.lines / served:12,.0f} lines/s ({served * 1000:.1f} ms)")
        print(f"ratio service/baseline time: {served / base:.1f}x")


if __name__ == "__main__":
    main()
