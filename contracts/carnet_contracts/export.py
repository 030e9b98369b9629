"""Export the JSON Schema of every event (inside its envelope) to contracts/schemas/.

`python -m carnet_contracts.export` rewrites the files; the contract tests compare them.
"""

from __future__ import annotations

import json
from pathlib import Path

from .envelope import Envelope, Event
from .events import ALL_EVENTS

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"


def schema_file_name(event: type[Event]) -> str:
    return f"{event.topic.default_name}.{event.event_type}.v{event.schema_version}.json"


def event_schema(event: type[Event]) -> dict:
    envelope = Envelope.model_json_schema()
    data = event.model_json_schema(ref_template="#/$defs/{model}")
    defs = {**data.pop("$defs", {})}
    envelope["properties"]["data"] = data
    envelope["properties"]["event_type"] = {"const": event.event_type, "type": "string"}
    envelope["properties"]["schema_version"] = {"const": event.schema_version, "type": "integer"}
    if defs:
        envelope["$defs"] = defs
    envelope["title"] = event.event_type
    envelope["description"] = (event.__doc__ or event.event_type).strip().splitlines()[0]
    envelope["x-topic"] = event.topic.default_name
    envelope["x-key"] = event.topic.key
    return envelope


def render(event: type[Event]) -> str:
    return json.dumps(event_schema(event), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def export(directory: Path = SCHEMA_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for event in ALL_EVENTS:
        path = directory / schema_file_name(event)
        path.write_text(render(event), encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for path in export():
        print(path.relative_to(SCHEMA_DIR.parent))
