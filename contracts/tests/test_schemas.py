"""The committed JSON Schemas are the contract between services: they may only grow."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from carnet_contracts.envelope import Envelope
from carnet_contracts.events import ALL_EVENTS, TicketCredited
from carnet_contracts.export import SCHEMA_DIR, event_schema, render, schema_file_name
from carnet_contracts.topics import ALL_TOPICS


def incompatibilities(old: dict, new: dict, path: str = "") -> list[str]:
    """What a consumer of `old` would trip on in `new`: a removed or retyped field, a new required one."""
    problems: list[str] = []
    for keyword in ("type", "const", "format", "$ref", "enum"):
        if keyword in old and old.get(keyword) != new.get(keyword):
            problems.append(f"{path or '/'}: {keyword} changed from {old.get(keyword)!r} to {new.get(keyword)!r}")
    for branch in ("anyOf", "items"):
        if branch in old:
            if branch not in new:
                problems.append(f"{path}: {branch} removed")
            elif branch == "items":
                problems += incompatibilities(old["items"], new["items"], f"{path}/items")
            elif len(old[branch]) != len(new[branch]):
                problems.append(f"{path}: {branch} changed")
            else:
                for i, (o, n) in enumerate(zip(old[branch], new[branch], strict=True)):
                    problems += incompatibilities(o, n, f"{path}/{branch}{i}")
    old_props, new_props = old.get("properties", {}), new.get("properties", {})
    for name, schema in old_props.items():
        if name not in new_props:
            problems.append(f"{path}/{name}: removed")
        else:
            problems += incompatibilities(schema, new_props[name], f"{path}/{name}")
    added_required = set(new.get("required", [])) - set(old.get("required", []))
    for name in sorted(added_required):
        problems.append(f"{path}/{name}: became required")
    for name, schema in old.get("$defs", {}).items():
        if name not in new.get("$defs", {}):
            problems.append(f"$defs/{name}: removed")
        else:
            problems += incompatibilities(schema, new["$defs"][name], f"$defs/{name}")
    return problems


@pytest.mark.parametrize("event", ALL_EVENTS, ids=lambda e: e.event_type)
def test_committed_schema_changes_only_additively(event):
    path = SCHEMA_DIR / schema_file_name(event)
    assert path.exists(), f"{path.name} is not committed: run `make contracts`"
    committed = json.loads(path.read_text(encoding="utf-8"))
    assert incompatibilities(committed, event_schema(event)) == [], (
        "a breaking change needs a new schema_version (a new event class), not an edit"
    )


@pytest.mark.parametrize("event", ALL_EVENTS, ids=lambda e: e.event_type)
def test_committed_schema_is_the_exported_one(event):
    path = SCHEMA_DIR / schema_file_name(event)
    assert path.read_text(encoding="utf-8") == render(event), "run `make contracts` and commit contracts/schemas/"


def test_no_committed_schema_lost_its_event():
    exported = {schema_file_name(e) for e in ALL_EVENTS}
    assert {p.name for p in SCHEMA_DIR.glob("*.json")} <= exported


def test_checker_sees_a_removed_field_a_retyped_field_and_a_new_required_field():
    old = event_schema(TicketCredited)
    new = json.loads(json.dumps(old))
    del new["properties"]["data"]["properties"]["code_suffix"]
    new["properties"]["data"]["properties"]["amount_cents"]["type"] = "string"
    new["properties"]["data"]["required"].append("brand_new")
    found = incompatibilities(old, new)
    assert any("code_suffix: removed" in p for p in found)
    assert any("amount_cents" in p and "type" in p for p in found)
    assert any("brand_new: became required" in p for p in found)


def test_an_added_optional_field_is_compatible():
    old = event_schema(TicketCredited)
    new = json.loads(json.dumps(old))
    new["properties"]["data"]["properties"]["note"] = {"type": "string"}
    assert incompatibilities(old, new) == []


def test_every_event_lives_on_a_declared_topic_and_round_trips_through_its_envelope():
    assert {e.topic for e in ALL_EVENTS} <= set(ALL_TOPICS)
    event = TicketCredited(
        ticket_id="t1", wallet_id="w1", campaign_id="2026-2027", position=1, code_hash="ab" * 32,
        code_suffix="XY7K", amount_cents=1000, valid_until="2027-03-31", credited_at=datetime.now(UTC),
    )
    envelope = Envelope.wrap(event, producer="wallet", event_id=uuid.uuid4())
    again = Envelope.model_validate_json(envelope.model_dump_json())
    assert again.campaign_id == "2026-2027"
    assert again.unwrap() == event
    assert event.key() == "t1"


def test_topic_names_can_be_overridden_by_environment(monkeypatch):
    topic = ALL_TOPICS[0]
    monkeypatch.setenv(topic.env_var, "prod.campaigns")
    assert topic.name == "prod.campaigns"
    assert topic.dead_letter_name == "prod.campaigns.dlt"
