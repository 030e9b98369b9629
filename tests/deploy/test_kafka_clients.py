"""Offline checks of how the built overlays reach Kafka: KEDA can read the lag it scales on (every Kafka
trigger authenticates, as a KafkaUser of its own that may only describe what it watches), and in prod
every client, services and KEDA alike, talks to Strimzi's TLS listener and trusts the cluster CA."""

from __future__ import annotations

from pathlib import PurePosixPath

import pytest

from .conftest import OVERLAYS, SERVICES

CLUSTER_CA_SECRET = "carnet-cluster-ca-cert"  # Strimzi's `<cluster>-cluster-ca-cert`, key ca.crt
TLS_PORT, PLAIN_PORT = 9093, 9092


def _by_name(objects, kind):
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def _kafka_triggers(objects):
    for scaled in _by_name(objects, "ScaledObject").values():
        for trigger in scaled["spec"]["triggers"]:
            if trigger["type"] == "kafka":
                yield scaled, trigger


def _service_config(objects, service):
    """The variables a service's container gets from its ConfigMaps (envFrom)."""
    container = _by_name(objects, "Deployment")[f"carnet-{service}"]["spec"]["template"]["spec"]["containers"][0]
    config_maps = _by_name(objects, "ConfigMap")
    values = {}
    for source in container.get("envFrom", []):
        values.update(config_maps[source["configMapRef"]["name"]]["data"])
    return container, values


def _trigger_auth_parameters(objects, name):
    """What KEDA resolves a TriggerAuthentication to: {parameter: literal value from a ConfigMap, or
    ("secret", name, key) for a Secret, which the repository never holds}."""
    spec = _by_name(objects, "TriggerAuthentication")[name]["spec"]
    config_maps = _by_name(objects, "ConfigMap")
    resolved = {}
    for ref in spec.get("configMapTargetRef", []):
        resolved[ref["parameter"]] = config_maps[ref["name"]]["data"][ref["key"]]
    for ref in spec.get("secretTargetRef", []):
        resolved[ref["parameter"]] = ("secret", ref["name"], ref["key"])
    return resolved


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_kafka_trigger_authenticates_with_scram_as_an_existing_kafka_user(overlay, built):
    objects = built[overlay]
    users = _by_name(objects, "KafkaUser")
    triggers = list(_kafka_triggers(objects))
    assert triggers
    for scaled, trigger in triggers:
        where = (scaled["metadata"]["name"], trigger["name"])
        assert "authenticationRef" in trigger, f"{where}: a Kafka trigger without authentication cannot read the lag"
        assert trigger["authenticationRef"].get("kind", "TriggerAuthentication") == "TriggerAuthentication"
        auth = _trigger_auth_parameters(objects, trigger["authenticationRef"]["name"])
        assert auth["sasl"] == "scram_sha512", where
        user = users[auth["username"]]
        assert user["spec"]["authentication"]["type"] == "scram-sha-512"
        # the Secret Strimzi's User Operator writes for that user
        assert auth["password"] == ("secret", auth["username"], "password"), where
        assert not {"sasl", "tls", "username", "password"} & set(trigger["metadata"]), "credentials in a trigger"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_keda_reads_the_lag_on_the_brokers_its_service_uses(overlay, built):
    deployments = _by_name(built[overlay], "Deployment")
    for scaled, trigger in _kafka_triggers(built[overlay]):
        target = scaled["spec"]["scaleTargetRef"]["name"]
        service = deployments[target]["metadata"]["labels"]["app.kubernetes.io/name"]
        _, config = _service_config(built[overlay], service)
        assert trigger["metadata"]["bootstrapServersFromEnv"] == "CARNET_KAFKA_BOOTSTRAP_SERVERS"
        assert "CARNET_KAFKA_BOOTSTRAP_SERVERS" in config
        assert "bootstrapServers" not in trigger["metadata"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_kedas_kafka_user_may_only_describe_the_groups_and_topics_it_watches(overlay, built):
    watched_groups, watched_topics, usernames = set(), set(), set()
    for _, trigger in _kafka_triggers(built[overlay]):
        watched_groups.add(trigger["metadata"]["consumerGroup"])
        watched_topics.add(trigger["metadata"]["topic"])
        usernames.add(_trigger_auth_parameters(built[overlay], trigger["authenticationRef"]["name"])["username"])
    (username,) = usernames
    assert username not in {f"carnet-{s}" for s in SERVICES}, "KEDA must not borrow a service's identity"
    acls = _by_name(built[overlay], "KafkaUser")[username]["spec"]["authorization"]["acls"]
    granted: dict[str, set[str]] = {"group": set(), "topic": set()}
    for rule in acls:
        assert rule["type"] == "allow" and rule["resource"]["patternType"] == "literal", rule
        # OffsetFetch, DescribeGroups, ListOffsets and Metadata need Describe only: no Read, no Write
        assert rule["operations"] == ["Describe"], rule
        granted[rule["resource"]["type"]].add(rule["resource"]["name"])
    assert set(granted) == {"group", "topic"}
    assert granted["group"] == watched_groups == set(SERVICES)
    assert granted["topic"] == watched_topics


def test_in_prod_every_service_talks_to_the_tls_listener_and_trusts_the_cluster_ca(built):
    objects = built["prod"]
    for service in SERVICES:
        container, config = _service_config(objects, service)
        host, port = config["CARNET_KAFKA_BOOTSTRAP_SERVERS"].rsplit(":", 1)
        assert int(port) == TLS_PORT, service
        assert config["CARNET_KAFKA_SASL_USERNAME"] == f"carnet-{service}"
        cafile = PurePosixPath(config["CARNET_KAFKA_SSL_CAFILE"])
        mount = next(m for m in container["volumeMounts"] if m["mountPath"] == str(cafile.parent))
        assert mount["readOnly"] is True
        pod = _by_name(objects, "Deployment")[f"carnet-{service}"]["spec"]["template"]["spec"]
        volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
        assert volume["secret"]["secretName"] == CLUSTER_CA_SECRET
        assert {"key": "ca.crt", "path": cafile.name} in volume["secret"]["items"]


def test_in_prod_the_network_policies_open_the_tls_listener_and_not_the_plain_one(built):
    for service in SERVICES:
        policy = _by_name(built["prod"], "NetworkPolicy")[f"carnet-{service}"]["spec"]
        to_kafka = [rule for rule in policy["egress"] for peer in rule.get("to", [])
                    if peer.get("namespaceSelector", {}).get("matchLabels", {}).get("kubernetes.io/metadata.name") == "kafka"]
        assert [p["port"] for rule in to_kafka for p in rule["ports"]] == [TLS_PORT], service
        assert PLAIN_PORT not in {p["port"] for rule in policy["egress"] for p in rule["ports"]}


def test_in_prod_keda_reads_the_lag_over_tls_trusting_the_cluster_ca(built):
    names = {trigger["authenticationRef"]["name"] for _, trigger in _kafka_triggers(built["prod"])}
    for name in names:
        auth = _trigger_auth_parameters(built["prod"], name)
        assert auth["tls"] == "enable"
        assert auth["ca"] == ("secret", CLUSTER_CA_SECRET, "ca.crt")


def test_dev_talks_to_the_scram_listener_in_clear(built):
    """dev's single small cluster: SCRAM on the plain listener, as the RUNBOOK says; prod is the TLS case."""
    for service in SERVICES:
        _, config = _service_config(built["dev"], service)
        assert config["CARNET_KAFKA_BOOTSTRAP_SERVERS"].endswith(f":{PLAIN_PORT}")
        assert "CARNET_KAFKA_SSL_CAFILE" not in config
    for _, trigger in _kafka_triggers(built["dev"]):
        assert _trigger_auth_parameters(built["dev"], trigger["authenticationRef"]["name"])["tls"] == "disable"
