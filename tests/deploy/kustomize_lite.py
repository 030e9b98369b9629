"""The part of Kustomize that deploy/k8s uses, so that CI can build the overlays offline.

The `kustomize` binary cannot be fetched here and no PyPI or npm package ships it, so this builds
an overlay the way `kustomize build` does for the fields we use: `resources` (files and
directories), `namespace`, `images`, and `patches` (strategic merge or JSON 6902, inline or by
path, with a `target` by kind and name). Anything else in a kustomization is refused, so a
manifest can never silently use a field this builder ignores. Where `kubectl kustomize` is on the
PATH, a test checks that both build the same objects.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

SUPPORTED = {"apiVersion", "kind", "resources", "namespace", "images", "patches"}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "StorageClass"}


class Unsupported(ValueError):
    pass


def build(directory: Path) -> list[dict[str, Any]]:
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unknown = set(kustomization) - SUPPORTED
    if unknown:
        raise Unsupported(f"{directory}: kustomization fields this builder does not implement: {sorted(unknown)}")
    docs: list[dict[str, Any]] = []
    for resource in kustomization.get("resources", []):
        path = (directory / resource).resolve()
        if path.is_dir():
            docs += build(path)
        else:
            docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    for patch in kustomization.get("patches", []):
        _apply_patch(docs, patch, directory)
    if "namespace" in kustomization:
        for doc in docs:
            if doc["kind"] not in CLUSTER_SCOPED:
                doc["metadata"]["namespace"] = kustomization["namespace"]
    for image in kustomization.get("images", []):
        _set_image(docs, image)
    return docs


def _apply_patch(docs: list[dict], patch: dict, directory: Path) -> None:
    unknown = set(patch) - {"patch", "path", "target"}
    if unknown:
        raise Unsupported(f"patch fields not implemented: {sorted(unknown)}")
    body = yaml.safe_load(patch["patch"] if "patch" in patch else (directory / patch["path"]).read_text())
    target = patch.get("target")
    if isinstance(body, list):
        if target is None:
            raise Unsupported("a JSON 6902 patch needs a target")
        selected = _select(docs, target)
        for doc in selected:
            for operation in body:
                _json6902(doc, operation)
    else:
        if target is None:
            target = {"kind": body["kind"], "name": body["metadata"]["name"]}
        body = copy.deepcopy(body)
        body.get("metadata", {}).pop("name", None)  # with a target, the patch's own name does not matter
        selected = _select(docs, target)
        for doc in selected:
            _merge(doc, body)
    if not selected:
        raise Unsupported(f"patch target matches nothing: {target}")


def _select(docs: list[dict], target: dict) -> list[dict]:
    unknown = set(target) - {"kind", "name"}
    if unknown:
        raise Unsupported(f"patch target fields not implemented: {sorted(unknown)}")
    return [d for d in docs if all(
        (d["kind"] if key == "kind" else d["metadata"]["name"]) == value for key, value in target.items())]


def _merge(into: dict, patch: dict) -> None:
    """Strategic merge as far as our patches need it: maps merge, lists of named items merge by name,
    other lists are replaced."""
    for key, value in patch.items():
        current = into.get(key)
        if isinstance(value, dict) and isinstance(current, dict):
            _merge(current, value)
        elif (isinstance(value, list) and isinstance(current, list) and value and current
              and all(isinstance(i, dict) and "name" in i for i in value + current)):
            by_name = {item["name"]: item for item in current}
            for item in value:
                if item["name"] in by_name:
                    _merge(by_name[item["name"]], item)
                else:
                    current.append(copy.deepcopy(item))
        else:
            into[key] = copy.deepcopy(value)


def _pointer(path: str) -> list[str]:
    return [p.replace("~1", "/").replace("~0", "~") for p in path.lstrip("/").split("/")]


def _json6902(doc: dict, operation: dict) -> None:
    *parents, last = _pointer(operation["path"])
    node: Any = doc
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    op = operation["op"]
    if isinstance(node, list):
        index = len(node) if last == "-" else int(last)
        if op == "add":
            node.insert(index, copy.deepcopy(operation["value"]))
        elif op == "replace":
            node[index] = copy.deepcopy(operation["value"])
        elif op == "remove":
            del node[index]
        else:
            raise Unsupported(f"JSON 6902 op not implemented: {op}")
        return
    if op in ("add", "replace"):
        if op == "replace" and last not in node:
            raise KeyError(f"replace of a missing path: {operation['path']}")
        node[last] = copy.deepcopy(operation["value"])
    elif op == "remove":
        del node[last]
    else:
        raise Unsupported(f"JSON 6902 op not implemented: {op}")


def _image_name(image: str) -> str:
    name = image.split("@", 1)[0]
    last_slash = name.rfind("/")
    colon = name.rfind(":")
    return name[:colon] if colon > last_slash else name


def _set_image(docs: list[dict], image: dict) -> None:
    for doc in docs:
        pod = doc.get("spec", {}).get("template", {}).get("spec", {})
        for container in pod.get("containers", []) + pod.get("initContainers", []):
            if _image_name(container["image"]) != image["name"]:
                continue
            name = image.get("newName", image["name"])
            if "digest" in image:
                container["image"] = f"{name}@{image['digest']}"
            elif "newTag" in image:
                container["image"] = f"{name}:{image['newTag']}"
            else:
                container["image"] = name
