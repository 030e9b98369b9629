"""Fixtures for the offline checks of deploy/: the built overlays, the CRD schemas, the services' topics."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
K8S = REPO / "deploy" / "k8s"
OVERLAYS = ("dev", "prod")
SERVICES = ("enrolment", "wallet", "redemption", "affiliation", "notification")


def _load_helper():
    spec = importlib.util.spec_from_file_location("carnet_kustomize_lite", HERE / "kustomize_lite.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


kustomize_lite = _load_helper()


@pytest.fixture(scope="session")
def built() -> dict[str, list[dict[str, Any]]]:
    """Every overlay, built: {"dev": [objects], "prod": [objects]}."""
    return {overlay: kustomize_lite.build(K8S / "overlays" / overlay) for overlay in OVERLAYS}


def _structural_to_json_schema(node: Any) -> Any:
    """A CRD's openAPIV3Schema as a JSON Schema that refuses unknown fields, as the API server's
    strict field validation (kubectl apply --validate=strict) does; int-or-string as either."""
    if isinstance(node, list):
        return [_structural_to_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    schema = {k: _structural_to_json_schema(v) for k, v in node.items() if not k.startswith("x-kubernetes-")}
    if node.get("x-kubernetes-int-or-string"):
        schema.pop("type", None)
        schema.setdefault("anyOf", [{"type": "integer"}, {"type": "string"}])
    if "properties" in node and not node.get("x-kubernetes-preserve-unknown-fields") and "additionalProperties" not in node:
        schema["additionalProperties"] = False
    return schema


@pytest.fixture(scope="session")
def crd_schemas() -> dict[tuple[str, str], dict]:
    """{(apiVersion, kind): JSON Schema} from the CRDs committed under tests/deploy/crds/."""
    schemas = {}
    for path in sorted((HERE / "crds").glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            if version["served"]:
                schemas[(f"{group}/{version['name']}", kind)] = _structural_to_json_schema(
                    version["schema"]["openAPIV3Schema"])
    return schemas


@pytest.fixture(scope="session")
def consumed_topics() -> dict[str, set[str]]:
    """The topics each service subscribes to, read from the services themselves (built, not started,
    with throwaway keys: carnet_runtime.documents.placeholder_environment)."""
    from carnet_runtime.documents import placeholder_environment

    topics = {}
    with placeholder_environment():
        for name in SERVICES:
            service = importlib.import_module(f"{name}.app").create_service()
            topics[name] = {topic.default_name for topic in service.consumers.topics}
    return topics
