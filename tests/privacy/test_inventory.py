"""Every column of every table is classified in its service's inventory of personal data, with why
and for how long personal data is kept: a migration that adds a column fails here until it is."""

from __future__ import annotations

import pytest

from .inventory import (
    SERVICES,
    inventory,
    kafka_retention_problems,
    migrations,
    runtime_tables,
    tables_of,
    unclassified,
)


@pytest.mark.parametrize("service", SERVICES)
def test_every_column_of_the_service_is_classified(service):
    assert unclassified(tables_of(migrations(service)), inventory(service), also_known=set(runtime_tables())) == []


def test_every_column_of_the_runtime_tables_is_classified():
    assert unclassified(runtime_tables(), inventory("runtime")) == []


@pytest.mark.parametrize("service", SERVICES)
def test_the_inventory_says_how_long_kafka_keeps_what_the_service_writes(service):
    assert kafka_retention_problems(inventory(service)) == []


def test_a_migration_adding_an_unclassified_column_is_caught(tmp_path):
    first = tmp_path / "0001_init.sql"
    first.write_text("""
        CREATE TABLE pupils (
            pupil_id  uuid PRIMARY KEY,  -- the id
            last_name text NOT NULL CHECK (length(last_name) < 200),
            CONSTRAINT named UNIQUE (last_name, pupil_id)
        );
    """)
    second = tmp_path / "0002_phone.sql"
    second.write_text("ALTER TABLE pupils ADD COLUMN phone text, ADD COLUMN IF NOT EXISTS note text;")
    classified = {"tables": {"pupils": {"purpose": "p", "retention": "r", "personal": ["last_name"],
                                        "not_personal": ["pupil_id", "note"], "why": {"last_name": "printed"}}}}
    assert tables_of([first]) == {"pupils": {"pupil_id", "last_name"}}
    assert unclassified(tables_of([first, second]), classified) == ["pupils.phone: not classified (personal or not_personal)"]
