"""Benchmark: reading and matching a 5,000-line roster, against plain csv parsing of the same file;
and what large files of bad lines do to a running service.

    uv run python services/enrolment/bench/roster_import.py [--lines 5000] [--repeat 5]
    uv run python services/enrolment/bench/roster_import.py --url http://127.0.0.1:8001   # a running service
    uv run python services/enrolment/bench/roster_import.py --own-stack    # a private PostgreSQL, Kafka, service

Prints lines per second for the roster import (decode, fields, dates, levels, duplicate keys,
matching against as many submitted applications) and for the baseline (cp1252 decode and
csv.reader, nothing checked), both measured in this run, and their ratio. With --url (or
--own-stack), it also times the whole import through the service (HTTP, parsing, PostgreSQL), then
sends files of bad lines (4.9 MB, 1.9 MB, 10,000 lines) while another client asks /health/live
every 10 ms: for each, the answer's status and size and the slowest /health/live meanwhile (how
long the service stopped answering), against the slowest /health/live of an idle period measured
in the same run. Tokens are signed with the local keys ($CARNET_HOME/keys).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import os
import random
import statistics
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


def bad_lines_file(size: int) -> bytes:
    """A file of `size` bytes whose every line is refused, each for its own reasons."""
    block = "\r\n".join(f"Martin {n};Paul;31/02/2003;CM2" if n % 2 else f"Roux {n},Emma,12/03/2002,3e"
                         for n in range(1000)).encode() + b"\r\n"
    return (block * (size // len(block) + 1))[:size]


def tokens(keys_dir: Path, school_id: str) -> tuple[dict, dict]:
    from carnet_local.config import local_token

    admin = {"Authorization": f"Bearer {local_token(keys_dir, 'admin', sub='bench-admin')}"}
    correspondent = {
        "Authorization": f"Bearer {local_token(keys_dir, 'correspondent', sub='bench-correspondent', school_id=school_id)}",
        "Content-Type": "text/csv",
    }
    return admin, correspondent


def through_service(url: str, data: bytes, repeat: int, keys_dir: Path) -> float:
    import httpx

    school_id = "BENCH0001"
    admin, correspondent = tokens(keys_dir, school_id)
    with httpx.Client(base_url=url, timeout=60) as client:
        client.put(f"/v1/schools/{school_id}", headers=admin,
                   json={"name": "Collège de mesure", "postcode": "92100", "city": "Boulogne-Billancourt"}).raise_for_status()

        def post() -> None:
            client.post(f"/v1/schools/{school_id}/roster", headers=correspondent, content=data).raise_for_status()

        return best_of(repeat, post)


async def slowest_live(url: str, until: asyncio.Event) -> list[float]:
    """/health/live asked every 10 ms until `until` is set: each answer's time, in seconds."""
    import httpx

    times: list[float] = []
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        while not until.is_set():
            start = time.perf_counter()
            (await client.get("/health/live")).raise_for_status()
            times.append(time.perf_counter() - start)
            await asyncio.sleep(0.01)
    return times


async def status_before_body(url: str, path: str, headers: dict, size: int) -> str:
    """The status line a service answers to the request's headers alone (a body of `size` declared, none sent)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    head = "".join(f"{k}: {v}\r\n" for k, v in {**headers, "Host": parts.netloc, "Content-Length": str(size)}.items())
    writer.write(f"POST {path} HTTP/1.1\r\n{head}\r\n".encode())
    await writer.drain()
    status = (await asyncio.wait_for(reader.readline(), 30)).decode().strip()
    writer.close()
    return status


async def stalls(url: str, keys_dir: Path) -> None:
    import httpx

    school_id = "BENCH0001"
    _, correspondent = tokens(keys_dir, school_id)
    idle_over = asyncio.Event()
    idle_task = asyncio.create_task(slowest_live(url, idle_over))
    await asyncio.sleep(2.0)
    idle_over.set()
    idle = await idle_task
    print(f"idle service        : /health/live slowest {max(idle) * 1000:7.1f} ms, median "
          f"{statistics.median(idle) * 1000:.1f} ms ({len(idle)} asked)")
    files = [("4.9 MB of bad lines", bad_lines_file(4_900_000)), ("1.9 MB of bad lines", bad_lines_file(1_900_000)),
             ("10,000 bad lines", b"".join(bad_lines_file(400_000).splitlines(keepends=True)[:10_000]))]
    async with httpx.AsyncClient(base_url=url, timeout=120) as client:
        for name, data in files:
            done = asyncio.Event()
            pinger = asyncio.create_task(slowest_live(url, done))
            await asyncio.sleep(0.05)
            start = time.perf_counter()
            path = f"/v1/schools/{school_id}/roster"
            try:
                answer = await client.post(path, headers=correspondent, content=data)
            except httpx.TransportError:  # the service answered and closed before the body was sent
                took = time.perf_counter() - start
                done.set()
                live = await pinger
                status = await status_before_body(url, path, correspondent, len(data))
                print(f"{name:20s}: connection closed while sending, after {took * 1000:7.1f} ms; to the headers alone "
                      f"the service answers `{status}`; /health/live slowest meanwhile {max(live) * 1000:7.1f} ms")
                continue
            took = time.perf_counter() - start
            done.set()
            live = await pinger
            body = answer.json()
            shown = (f"code {body['error']['code']}" if "error" in body else
                     f"{len(body['rejected'])} rejected lines listed, rejected_count {body.get('rejected_count', '-')}")
            print(f"{name:20s}: {answer.status_code} in {took * 1000:7.1f} ms, answer {len(answer.content):>11,} bytes "
                  f"({shown}); /health/live slowest meanwhile {max(live) * 1000:7.1f} ms "
                  f"({max(live) / max(idle):.0f}x idle)")


def main_through(args, url: str, data: bytes, base: float) -> None:
    served = through_service(url, data, args.repeat, args.keys_dir)
    print(f"through the service : {args.lines / served:12,.0f} lines/s ({served * 1000:.1f} ms)")
    print(f"ratio service/baseline time: {served / base:.1f}x")
    asyncio.run(stalls(url, args.keys_dir))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--url", help="also import through this running enrolment service")
    parser.add_argument("--own-stack", action="store_true",
                        help="start a private PostgreSQL, Kafka and enrolment service for the measures through HTTP")
    parser.add_argument("--service-env", action="append", default=[], metavar="NAME=VALUE",
                        help="a setting for the --own-stack service (e.g. CARNET_MAX_BODY_BYTES=6000000)")
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
        main_through(args, args.url, data, base)
    elif args.own_stack:
        from carnet_local.testing import start_test_stack

        stack = start_test_stack()
        try:
            env = dict(item.split("=", 1) for item in args.service_env)
            service = stack.service("enrolment", env=env).start(timeout=120)
            args.keys_dir = stack.keys_dir
            main_through(args, service.url, data, base)
        finally:
            stack.stop()


if __name__ == "__main__":
    main()
