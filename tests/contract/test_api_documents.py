"""Each service's OpenAPI and AsyncAPI documents are committed (contracts/api/): a gateway team
generates its client from them, and a change to a route, a response model or a topic shows in review.
When this fails after an intended change: `make contracts`, then commit the documents."""

from __future__ import annotations

import json

import pytest

from carnet_runtime.auth import SERVICES
from carnet_runtime.documents import KINDS, document_path, served_documents


@pytest.fixture(scope="module", params=SERVICES)
def service_documents(request):
    return request.param, served_documents(request.param)


@pytest.mark.parametrize("kind", KINDS)
def test_the_served_document_is_the_committed_one(service_documents, kind):
    name, documents = service_documents
    path = document_path(name, kind)
    assert path.is_file(), f"{path} is not committed: run `make contracts`"
    committed = json.loads(path.read_text(encoding="utf-8"))
    assert documents[kind] == committed, f"{name}'s {kind} document drifted from {path}: run `make contracts`"


def test_every_answer_of_every_route_has_a_schema(service_documents):
    """A gateway can generate a client: no route answers 'an object of anything'."""
    name, documents = service_documents
    untyped = []
    for path, operations in documents["openapi"]["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                content = response.get("content", {})
                schema = (content.get("application/json") or {}).get("schema")
                if "application/json" in content and (not schema or schema == {} or
                                                      schema == {"additionalProperties": True, "type": "object"}):
                    untyped.append(f"{method.upper()} {path} {status}")
    assert not untyped, f"{name}: answers without a schema: {untyped}"
