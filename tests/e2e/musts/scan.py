"""Looking for personal data where it must not be: every row of every table of the five databases
(every column, as JSON text; bytea columns also as text), every record still on the services' topics
(read from their start), every line of the services' logs, and a pg_dump of a database."""

from __future__ import annotations

import json
import subprocess
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition

from carnet_local.offsets import describe_topics


@dataclass(frozen=True)
class Found:
    where: str      # "wallet.tickets", "topic wallet.wallets[2]@15", "log wallet-4242.log:17"
    needle: str
    excerpt: str

    def __str__(self) -> str:
        return f"{self.needle!r} in {self.where}: …{self.excerpt}…"


def _forms(needle: str) -> set[str]:
    """A value as it may be written: as typed, as JSON escapes it (non-ASCII as \\uXXXX), and folded as
    names are compared (no accents, hyphens as spaces)."""
    folded = " ".join("".join(c for c in unicodedata.normalize("NFKD", needle) if not unicodedata.combining(c))
                      .casefold().replace("-", " ").split())
    return {needle, json.dumps(needle)[1:-1], json.dumps(needle, ensure_ascii=False)[1:-1], folded}


def search(where: str, text: str, needles: list[str]) -> list[Found]:
    found = []
    lowered = text.casefold()
    for needle in needles:
        for form in _forms(needle):
            at = lowered.find(form.casefold())
            if at >= 0:
                found.append(Found(where, needle, text[max(0, at - 60):at + len(form) + 60].replace("\n", " ")))
                break
    return found


async def scan_database(name: str, dsn: str, needles: list[str]) -> list[Found]:
    conn = await asyncpg.connect(dsn)
    try:
        tables = await conn.fetch(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')")
        found: list[Found] = []
        for table in tables:
            qualified = f'"{table["table_schema"]}"."{table["table_name"]}"'
            byteas = [r["column_name"] for r in await conn.fetch(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 "
                "AND data_type = 'bytea'", table["table_schema"], table["table_name"])]
            for row in await conn.fetch(f"SELECT row_to_json(t)::text AS j FROM {qualified} t"):
                found += search(f"{name}.{table['table_name']}", row["j"], needles)
            for column in byteas:
                for row in await conn.fetch(f'SELECT "{column}" AS b FROM {qualified} WHERE "{column}" IS NOT NULL'):
                    found += search(f"{name}.{table['table_name']}.{column}", bytes(row["b"]).decode("utf-8", "replace"),
                                    needles)
        return found
    finally:
        await conn.close()


async def topic_records(bootstrap: str, topics: list[str]) -> dict[str, list[str]]:
    """Every record still held on each topic, from its first offset to its end, as text (key, value, headers)."""
    described = await describe_topics(bootstrap, topics)
    assert not [d["topic"] for d in described if d["error_code"]] and len(described) == len(topics), described
    partitions = [TopicPartition(d["topic"], p["partition"]) for d in described for p in d["partitions"]]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
    await consumer.start()
    try:
        ends = await consumer.end_offsets(partitions)
        starts = await consumer.beginning_offsets(partitions)
        records: dict[str, list[str]] = {t: [] for t in topics}
        wanted = [tp for tp in partitions if ends[tp] > starts[tp]]
        if not wanted:
            return records
        consumer.assign(wanted)
        for tp in wanted:
            consumer.seek(tp, starts[tp])
        remaining = set(wanted)
        while remaining:
            batches = await consumer.getmany(*remaining, timeout_ms=1000)
            for tp, batch in batches.items():
                for record in batch:
                    headers = " ".join(f"{k}={v.decode('utf-8', 'replace')}" for k, v in record.headers or ())
                    key = (record.key or b"").decode("utf-8", "replace")
                    value = (record.value or b"").decode("utf-8", "replace")
                    records[tp.topic].append(f"[{tp.partition}@{record.offset}] {key} {headers} {value}")
                if batch and batch[-1].offset + 1 >= ends[tp]:
                    remaining.discard(tp)
        return records
    finally:
        await consumer.stop()


def scan_records(records: dict[str, list[str]], needles: list[str]) -> list[Found]:
    return [f for topic, texts in records.items() for text in texts for f in search(f"topic {topic}", text, needles)]


def scan_logs(logs: dict[str, Path], needles: list[str]) -> list[Found]:
    found = []
    for name, path in logs.items():
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), start=1):
            found += search(f"log {path.name}:{number}", line, needles)
    return found


def pg_dump(dsn: str) -> str:
    from carnet_local.postgres import _binaries

    return subprocess.run([str(_binaries() / "pg_dump"), "--dbname", dsn], check=True, capture_output=True,
                          text=True, timeout=120).stdout
