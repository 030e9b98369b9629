"""The committed API documents: each service's OpenAPI and AsyncAPI documents under contracts/api/.

`python -m carnet_runtime.documents` (or `make contracts`) rewrites them from the services' code;
tests/contract/test_api_documents.py fails when a served document differs from the committed one,
so a change to a route, a response model or a topic is seen in review. A document is built from a
service constructed in memory, never started: no database, broker or real secret is needed.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .auth import SERVICES, ensure_keypair

DOCUMENTS_DIR = Path(__file__).resolve().parents[3] / "contracts" / "api"
KINDS = ("openapi", "asyncapi")


@contextmanager
def placeholder_environment() -> Iterator[None]:
    """Settings that let a service be built (not started) to read its documents: throwaway keys."""
    saved = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix="carnet-documents-") as keys:
        for name in ("affiliation", *(f"service.{s}" for s in SERVICES)):
            ensure_keypair(Path(keys), name)
        os.environ.update({
            "CARNET_JWT_KEYS_DIR": keys,
            "CARNET_TICKET_CODE_HASH_KEY": "documents-only-" + "0" * 32,
            "CARNET_SEAL_KEY": "documents-only-" + "0" * 32,
            "CARNET_WALLET_CODE_KEYS": json.dumps({"documents": "0" * 64}),
            "CARNET_AFFILIATION_SECRET_KEY": "documents-only-" + "0" * 32,
        })
        try:
            yield
        finally:
            os.environ.clear()
            os.environ.update(saved)


def served_documents(service_name: str) -> dict[str, dict]:
    """The documents `service_name` serves at /openapi.json and /asyncapi.json."""
    module = importlib.import_module(f"{service_name}.app")
    with placeholder_environment():
        service = module.create_service()
        api = service.asgi()
        return {"openapi": api.openapi(), "asyncapi": json.loads(service.asyncapi_json())}


def document_path(service_name: str, kind: str, directory: Path = DOCUMENTS_DIR) -> Path:
    return directory / f"{service_name}.{kind}.json"


def render(document: dict) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def export(directory: Path = DOCUMENTS_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name in SERVICES:
        for kind, document in served_documents(name).items():
            path = document_path(name, kind, directory)
            path.write_text(render(document), encoding="utf-8")
            written.append(path)
    return written


if __name__ == "__main__":
    for path in export():
        print(path.relative_to(DOCUMENTS_DIR.parent.parent), file=sys.stdout)
