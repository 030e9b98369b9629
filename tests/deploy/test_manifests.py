"""Offline checks of deploy/k8s: what every built overlay must hold before ops apply it."""

from __future__ import annotations

import copy
import shutil
import subprocess

import jsonschema
import kubernetes_validate
import pytest
import yaml

from carnet_contracts.topics import ALL_TOPICS

from .conftest import K8S, OVERLAYS, SERVICES, kustomize_lite

# The oldest minor we support (the preStop `sleep` action is on by default from 1.30) and the newest known.
KUBERNETES_VERSIONS = ("1.30.0", kubernetes_validate.latest_version())


def _of(objects, kind):
    return [o for o in objects if o["kind"] == kind]


def _by_name(objects, kind):
    return {o["metadata"]["name"]: o for o in _of(objects, kind)}


def _deployment(objects, service):
    return _by_name(objects, "Deployment")[f"carnet-{service}"]


def _key(obj):
    return obj["kind"], obj["metadata"]["name"]


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl (its built-in Kustomize) is not installed")
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_offline_builder_builds_exactly_what_kubectl_kustomize_builds(overlay, built):
    output = subprocess.run(["kubectl", "kustomize", str(K8S / "overlays" / overlay)],
                            capture_output=True, text=True, check=True).stdout
    real = sorted((d for d in yaml.safe_load_all(output) if d), key=_key)
    assert sorted(built[overlay], key=_key) == real


def test_the_offline_builder_refuses_kustomize_fields_it_does_not_implement(tmp_path):
    (tmp_path / "kustomization.yaml").write_text("resources: []\nnamePrefix: x-\n")
    with pytest.raises(kustomize_lite.Unsupported):
        kustomize_lite.build(tmp_path)


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_of_a_built_overlay_validates_against_its_schema(overlay, version, built, crd_schemas):
    problems = []
    for obj in built[overlay]:
        custom = crd_schemas.get((obj["apiVersion"], obj["kind"]))
        try:
            if custom is not None:
                jsonschema.validate(obj, custom)
            else:
                kubernetes_validate.validate(obj, version, strict=True)
        except (jsonschema.ValidationError, kubernetes_validate.ValidationError) as exc:
            problems.append(f"{_key(obj)}: {exc.message if hasattr(exc, 'message') else exc}"[:400])
        except kubernetes_validate.SchemaNotFoundError:
            problems.append(f"{_key(obj)}: no schema, neither Kubernetes' nor a CRD under tests/deploy/crds/")
    assert not problems, "\n".join(problems)


def test_a_custom_resource_with_an_unknown_field_is_refused(built, crd_schemas):
    topic = dict(_of(built["prod"], "KafkaTopic")[0])
    topic["spec"] = {**topic["spec"], "replicationFactor": 3}  # a plausible typo for `replicas`
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(topic, crd_schemas[(topic["apiVersion"], "KafkaTopic")])


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_contract_topic_and_its_dead_letter_topic_has_a_kafka_topic_with_the_contract_partitions(overlay, built):
    declared = {o["spec"]["topicName"]: o for o in _of(built[overlay], "KafkaTopic")}
    for topic in ALL_TOPICS:
        for name in (topic.default_name, f"{topic.default_name}.dlt"):
            assert name in declared, f"no KafkaTopic for {name} in {overlay}"
            assert declared[name]["spec"]["partitions"] == topic.partitions, name
    expected = {t.default_name for t in ALL_TOPICS} | {f"{t.default_name}.dlt" for t in ALL_TOPICS}
    assert set(declared) == expected, "a KafkaTopic that no contract declares"


def test_prod_topics_are_replicated_three_times_with_two_in_sync(built):
    for topic in _of(built["prod"], "KafkaTopic"):
        assert topic["spec"]["replicas"] == 3, topic["metadata"]["name"]
        assert topic["spec"]["config"]["min.insync.replicas"] == 2, topic["metadata"]["name"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_service_has_probes_and_resource_limits(overlay, built):
    for service in SERVICES:
        pod = _deployment(built[overlay], service)["spec"]["template"]["spec"]
        app = pod["containers"][0]
        assert app["livenessProbe"]["httpGet"]["path"] == "/health/live", service
        assert app["readinessProbe"]["httpGet"]["path"] == "/health/ready", service
        for container in pod["containers"] + pod.get("initContainers", []):
            for kind in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(container["resources"][kind]), (service, container["name"], kind)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_service_runs_unprivileged_with_a_read_only_root(overlay, built):
    for service in SERVICES:
        pod = _deployment(built[overlay], service)["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["automountServiceAccountToken"] is False
        for container in pod["containers"] + pod["initContainers"]:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False
            assert context["readOnlyRootFilesystem"] is True
            assert context["capabilities"]["drop"] == ["ALL"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_migrations_run_in_an_init_container_of_the_same_image_before_the_service_serves(overlay, built):
    for service in SERVICES:
        pod = _deployment(built[overlay], service)["spec"]["template"]["spec"]
        (migrate,) = pod["initContainers"]
        assert migrate["command"] == ["python", "-m", "carnet_runtime.migrate", service]
        assert migrate["image"] == pod["containers"][0]["image"]
        assert migrate["env"][0] == pod["containers"][0]["env"][0]  # the same database


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_secrets_are_referenced_never_stored(overlay, built):
    assert not _of(built[overlay], "Secret")
    for deployment in _of(built[overlay], "Deployment"):
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            for variable in container["env"]:
                assert "valueFrom" in variable, (deployment["metadata"]["name"], variable["name"])
    for config in _of(built[overlay], "ConfigMap"):
        for name in config["data"]:
            assert not any(word in name for word in (
                "PASSWORD", "HASH_KEY", "SEAL_KEY", "CODE_KEYS", "SECRET_KEY", "DATABASE_URL")), name


def test_dev_gets_a_cloudnativepg_cluster_per_service_and_prod_an_external_url(built):
    clusters = _by_name(built["dev"], "Cluster")
    for service in SERVICES:
        assert clusters[f"carnet-{service}-db"]["spec"]["bootstrap"]["initdb"]["database"] == f"carnet_{service}"
        dev_ref = _deployment(built["dev"], service)["spec"]["template"]["spec"]["containers"][0]["env"][0]
        assert dev_ref["name"] == f"CARNET_{service.upper()}_DATABASE_URL"
        assert dev_ref["valueFrom"]["secretKeyRef"] == {"name": f"carnet-{service}-db-app", "key": "uri"}
        prod_ref = _deployment(built["prod"], service)["spec"]["template"]["spec"]["containers"][0]["env"][0]
        assert prod_ref["valueFrom"]["secretKeyRef"] == {"name": f"carnet-{service}-database", "key": "uri"}
    assert not _of(built["prod"], "Cluster")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_consumer_scales_on_its_consumer_group_lag_and_redemption_also_on_cpu(overlay, built, consumed_topics):
    scaled = _by_name(built[overlay], "ScaledObject")
    partitions = {t.default_name: t.partitions for t in ALL_TOPICS}
    for service in SERVICES:
        spec = scaled[f"carnet-{service}"]["spec"]
        assert spec["scaleTargetRef"]["name"] == f"carnet-{service}"
        lag = [t for t in spec["triggers"] if t["type"] == "kafka"]
        assert {t["metadata"]["topic"] for t in lag} == consumed_topics[service]
        assert {t["metadata"]["consumerGroup"] for t in lag} == {service}
        if service == "redemption":
            (cpu,) = [t for t in spec["triggers"] if t["type"] == "cpu"]
            assert cpu["metricType"] == "Utilization"
        else:  # replicas beyond the partitions of what it consumes would sit idle
            assert spec["maxReplicaCount"] <= max(partitions[t] for t in consumed_topics[service])
    assert not _of(built[overlay], "HorizontalPodAutoscaler"), "KEDA owns the HPA: a second one would fight it"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_only_the_gateways_reach_the_apis_and_the_services_reach_only_kafka_postgresql_and_smtp(overlay, built):
    policies = _by_name(built[overlay], "NetworkPolicy")
    for service in SERVICES:
        spec = policies[f"carnet-{service}"]["spec"]
        assert spec["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == service
        assert spec["policyTypes"] == ["Ingress", "Egress"]
        sources = [peer for rule in spec["ingress"] for peer in rule["from"]]
        allowed = [{"namespaceSelector": {"matchLabels": {"carnet.io/gateways": "true"}}},
                   {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}]
        if service == "wallet":  # the notification service fetches ticket sheets (DESIGN.md's one exception)
            allowed.append({"podSelector": {"matchLabels": {"app.kubernetes.io/name": "notification",
                                                            "app.kubernetes.io/part-of": "carnet"}}})
        assert sources == allowed
        ports = {p["port"] for rule in spec["egress"] for p in rule["ports"]}
        kafka = 9093 if overlay == "prod" else 9092  # prod: the TLS listener (test_kafka_clients.py)
        expected = {53, kafka, 5432, 4318} | ({25, 465, 587, 8080} if service == "notification" else set())
        assert ports == expected


def test_a_kubernetes_object_with_a_misspelt_field_is_refused(built):
    deployment = copy.deepcopy(_deployment(built["prod"], "redemption"))
    probe = deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]
    probe["httpGet"]["paht"] = probe["httpGet"].pop("path")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSIONS[0], strict=True)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_service_authenticates_to_kafka_as_its_own_kafka_user(overlay, built):
    users = {user["metadata"]["name"] for user in _of(built[overlay], "KafkaUser")}
    for service in SERVICES:
        container = _deployment(built[overlay], service)["spec"]["template"]["spec"]["containers"][0]
        password = next(v for v in container["env"] if v["name"] == "CARNET_KAFKA_SASL_PASSWORD")
        assert password["valueFrom"]["secretKeyRef"] == {"name": f"carnet-{service}", "key": "password"}
        assert f"carnet-{service}" in users
