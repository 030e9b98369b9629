"""Offline checks of what keeps the built overlays running under ops: images that cannot move under a
tag, scraping through the Prometheus Operator, disruption budgets and spread that survive a drain."""

from __future__ import annotations

import re

import pytest

from .conftest import OVERLAYS, SERVICES

PINNED = re.compile(r"^[^@:]+(:[0-9]+)?(/[^@:]+)*(:[^@]+)?@sha256:[0-9a-f]{64}$")


def _by_name(objects, kind):
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def _pod(objects, service):
    return _by_name(objects, "Deployment")[f"carnet-{service}"]["spec"]["template"]


def _selects(selector: dict, labels: dict) -> bool:
    assert set(selector) <= {"matchLabels"}, "only matchLabels selectors are checked here"
    return selector["matchLabels"].items() <= labels.items()


def test_every_prod_image_is_pinned_by_digest(built):
    for deployment in _by_name(built["prod"], "Deployment").values():
        pod = deployment["spec"]["template"]["spec"]
        for container in pod["containers"] + pod.get("initContainers", []):
            assert PINNED.match(container["image"]), (deployment["metadata"]["name"], container["image"])


def test_the_dev_postgresql_image_comes_from_a_catalog_pinned_by_digest(built):
    catalogs = _by_name(built["dev"], "ImageCatalog")
    for name, cluster in _by_name(built["dev"], "Cluster").items():
        spec = cluster["spec"]
        assert "imageName" not in spec, f"{name}: a floating image name"
        ref = spec["imageCatalogRef"]
        assert ref["kind"] == "ImageCatalog" and ref["apiGroup"] == "postgresql.cnpg.io"
        (image,) = [i["image"] for i in catalogs[ref["name"]]["spec"]["images"] if i["major"] == ref["major"]]
        assert PINNED.match(image), image


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_service_is_scraped_by_a_pod_monitor_on_its_metrics_endpoint(overlay, built):
    monitors = list(_by_name(built[overlay], "PodMonitor").values())
    for service in SERVICES:
        pod = _pod(built[overlay], service)
        ports = {p["name"] for p in pod["spec"]["containers"][0]["ports"]}
        (monitor,) = [m for m in monitors if _selects(m["spec"]["selector"], pod["metadata"]["labels"])]
        (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
        assert endpoint["port"] in ports and endpoint["path"] == "/metrics", service
        assert "app.kubernetes.io/name" in monitor["spec"]["podTargetLabels"]  # metrics say which service
        annotations = pod["metadata"].get("annotations", {})
        assert not [a for a in annotations if a.startswith("prometheus.io/")], "scraping relies on the PodMonitor alone"


def test_in_prod_draining_a_node_never_takes_a_service_down(built):
    objects = built["prod"]
    budgets = list(_by_name(objects, "PodDisruptionBudget").values())
    for service in SERVICES:
        deployment = _by_name(objects, "Deployment")[f"carnet-{service}"]
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        (budget,) = [b for b in budgets if _selects(b["spec"]["selector"], labels)]
        floor = _by_name(objects, "ScaledObject")[f"carnet-{service}"]["spec"]["minReplicaCount"]
        # at most one pod evicted at a time, out of at least two: one always serves
        assert budget["spec"].get("maxUnavailable") == 1 and "minAvailable" not in budget["spec"], service
        assert floor >= 2, service
        assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


def test_in_prod_replicas_spread_over_nodes_and_zones(built):
    for service in SERVICES:
        pod = _pod(built["prod"], service)
        spread = {c["topologyKey"]: c for c in pod["spec"]["topologySpreadConstraints"]}
        assert set(spread) == {"kubernetes.io/hostname", "topology.kubernetes.io/zone"}, service
        for constraint in spread.values():
            assert constraint["maxSkew"] == 1
            assert _selects(constraint["labelSelector"], pod["metadata"]["labels"])
            # a zone or node short of room must not block a scale-up at the counter rush
            assert constraint["whenUnsatisfiable"] == "ScheduleAnyway"
