"""The inventory of personal data (issue 13): what each service's migrations create, column by
column, against what its `privacy.toml` classifies.

`services/<svc>/privacy.toml` (and `services/runtime/privacy.toml` for the runtime's tables, present
in every service's database) lists, per table, its `purpose`, its `retention`, and every column in
either `personal` (with `why`) or `not_personal`.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SERVICES = ("enrolment", "wallet", "redemption", "affiliation", "notification")
_CONSTRAINTS = ("primary", "unique", "check", "constraint", "foreign", "exclude")


def _without_comments(sql: str) -> str:
    return re.sub(r"--[^\n]*", "", sql)


def _top_level_items(body: str) -> list[str]:
    items, depth, current = [], 0, []
    for char in body:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            items.append("".join(current))
            current = []
        else:
            current.append(char)
    items.append("".join(current))
    return [i.strip() for i in items if i.strip()]


def _name(token: str) -> str:
    return token.strip().strip('"').lower()


def tables_of(sql_files: list[Path]) -> dict[str, set[str]]:
    """{table: columns} after applying the files in order (CREATE/DROP TABLE, ALTER TABLE ADD/DROP/RENAME COLUMN)."""
    tables: dict[str, set[str]] = {}
    for path in sql_files:
        sql = _without_comments(path.read_text(encoding="utf-8"))
        for statement in sql.split(";"):
            text = " ".join(statement.split())
            created = re.match(r"(?i)create (?:unlogged )?table (?:if not exists )?([\w.\"]+) \((.*)\)\s*$", text)
            if created:
                table = _name(created.group(1))
                tables[table] = {_name(item.split()[0]) for item in _top_level_items(created.group(2))
                                 if item.split()[0].lower() not in _CONSTRAINTS}
                continue
            dropped = re.match(r"(?i)drop table (?:if exists )?([\w.\"]+)", text)
            if dropped:
                tables.pop(_name(dropped.group(1)), None)
                continue
            altered = re.match(r"(?i)alter table (?:if exists )?(?:only )?([\w.\"]+) (.*)$", text)
            if not altered:
                continue
            table = _name(altered.group(1))
            renamed = re.match(r"(?i)rename to ([\w\"]+)$", altered.group(2))
            if renamed:
                tables[_name(renamed.group(1))] = tables.pop(table, set())
                continue
            for action in _top_level_items(altered.group(2)):
                add = re.match(r"(?i)add (?:column )?(?:if not exists )?([\w\"]+)", action)
                drop = re.match(r"(?i)drop (?:column )?(?:if exists )?([\w\"]+)", action)
                rename = re.match(r"(?i)rename (?:column )?([\w\"]+) to ([\w\"]+)", action)
                if add and add.group(1).lower() not in _CONSTRAINTS:
                    tables.setdefault(table, set()).add(_name(add.group(1)))
                elif drop and drop.group(1).lower() not in _CONSTRAINTS:
                    tables.get(table, set()).discard(_name(drop.group(1)))
                elif rename:
                    columns = tables.get(table, set())
                    columns.discard(_name(rename.group(1)))
                    columns.add(_name(rename.group(2)))
    return tables


def migrations(service: str) -> list[Path]:
    return sorted((REPO / "services" / service / "migrations").glob("*.sql"))


def runtime_migrations() -> list[Path]:
    return sorted((REPO / "services" / "runtime" / "carnet_runtime" / "migrations").glob("*.sql"))


# The one table the runtime creates in code rather than in a migration file (carnet_runtime/db.py).
RUNTIME_CODE_TABLES = {"schema_migrations": {"scope", "version", "applied_at"}}


def runtime_tables() -> dict[str, set[str]]:
    return {**tables_of(runtime_migrations()), **RUNTIME_CODE_TABLES}


def kafka_retention_problems(classified: dict) -> list[str]:
    """The `[kafka]` section: the topics the service writes, each with its retention (or one for all)."""
    kafka = classified.get("kafka", {})
    topics = kafka.get("topics")
    if not topics:
        return ["[kafka] topics missing"]
    if kafka.get("retention"):
        return []
    if isinstance(topics, dict):
        return [f"[kafka] {name}: retention missing" for name, topic in topics.items()
                if not (isinstance(topic, dict) and topic.get("retention"))]
    return ["[kafka] retention missing"]


def inventory(service: str) -> dict:
    path = REPO / "services" / service / "privacy.toml"
    return tomllib.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def unclassified(tables: dict[str, set[str]], classified: dict, *, also_known: set[str] = frozenset()) -> list[str]:
    """Columns the inventory does not classify, and classifications of columns that do not exist
    (`also_known`: tables classified elsewhere that a service's inventory may repeat: the runtime's)."""
    problems = []
    entries = {t: e for t, e in classified.get("tables", {}).items() if t not in also_known or t in tables}
    for table, columns in sorted(tables.items()):
        entry = entries.get(table)
        if entry is None:
            problems.append(f"{table}: table not in the inventory")
            continue
        personal, other = set(entry.get("personal", [])), set(entry.get("not_personal", []))
        for column in sorted(columns - personal - other):
            problems.append(f"{table}.{column}: not classified (personal or not_personal)")
        for column in sorted((personal | other) - columns):
            problems.append(f"{table}.{column}: classified but no migration creates it")
        for column in sorted(personal & other):
            problems.append(f"{table}.{column}: both personal and not personal")
        for column in sorted(personal - set(entry.get("why", {}))):
            problems.append(f"{table}.{column}: personal without a `why`")
        for key in ("purpose", "retention"):
            if not entry.get(key):
                problems.append(f"{table}: no {key}")
    for table in sorted(set(entries) - set(tables)):
        problems.append(f"{table}: in the inventory but no migration creates it")
    return problems
