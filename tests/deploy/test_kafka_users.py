"""Offline checks of the Kafka side of the built overlays: what each KafkaUser may do (its ACLs, against
what the service itself reads, writes and purges) and how long each KafkaTopic keeps its records.
test_kafka_acls_on_a_broker.py applies the same ACLs to a real broker."""

from __future__ import annotations

import pytest

from carnet_contracts.topics import ALL_TOPICS, AFFILIATION_NOTICES
from carnet_local.kafka import topic_configs

from .conftest import OVERLAYS, SERVICES

SERVICE_OPERATIONS = {"Read", "Write", "Describe", "Delete"}


def _by_name(objects, kind):
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def may(user: dict, resource_type: str, name: str, operation: str) -> bool:
    """Whether the KafkaUser's `simple` ACLs allow `operation` on a resource, matched the way Kafka matches
    them: a literal name, the literal wildcard "*", or a prefix; `All` covers every operation."""
    for rule in user["spec"]["authorization"]["acls"]:
        resource = rule["resource"]
        if rule.get("type", "allow") != "allow" or resource["type"] != resource_type:
            continue
        if resource.get("patternType", "literal") == "prefix":
            matches = name.startswith(resource["name"])
        else:
            matches = resource.get("name") in (name, "*")
        if matches and (operation in rule["operations"] or "All" in rule["operations"]):
            return True
    return False


def _grants(user: dict) -> dict[tuple[str, str], set[str]]:
    """{(resource type, name): operations} of a KafkaUser whose rules are all literal allows."""
    grants: dict[tuple[str, str], set[str]] = {}
    for rule in user["spec"]["authorization"]["acls"]:
        resource = rule["resource"]
        assert rule["type"] == "allow" and resource.get("patternType", "literal") == "literal", rule
        grants.setdefault((resource["type"], resource.get("name", "")), set()).update(rule["operations"])
    return grants


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_kafka_user_writes_and_purges_only_what_its_service_writes_and_reads_only_what_it_consumes(
        overlay, built, services):
    users = _by_name(built[overlay], "KafkaUser")
    assert set(users) == {f"carnet-{s}" for s in SERVICES} | {"carnet-keda"}  # KEDA's: test_kafka_clients.py
    for service in SERVICES:
        spec = users[f"carnet-{service}"]["spec"]
        assert spec["authentication"]["type"] in ("scram-sha-512", "tls")
        grants = _grants(users[f"carnet-{service}"])
        assert {kind for kind, _ in grants} == {"topic", "group"}, "no cluster or transactional-id operation"
        topics = {name: ops for (kind, name), ops in grants.items() if kind == "topic"}
        groups = {name: ops for (kind, name), ops in grants.items() if kind == "group"}
        for name, ops in topics.items():
            assert ops <= SERVICE_OPERATIONS and "Describe" in ops, (service, name, ops)
        own = {t.default_name for t in ALL_TOPICS if t.owner == service}
        facts = services[service]
        assert {n for n, ops in topics.items() if "Read" in ops} == facts.consumed
        assert {n for n, ops in topics.items() if "Write" in ops} == own | {f"{n}.dlt" for n in facts.consumed}
        # the purge (carnet_runtime.purge) deletes records from exactly the topics the service writes...
        assert {n for n, ops in topics.items() if "Delete" in ops} == facts.written
        # ... up to the lowest offset every consumer group committed: it lists and describes them all,
        # and joins (Read) only its own
        assert groups == {service: {"Read", "Describe"}, "*": {"Describe"}}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_only_the_notification_service_may_read_affiliation_notices(overlay, built):
    users = _by_name(built[overlay], "KafkaUser")
    notices = AFFILIATION_NOTICES.default_name
    readers = {name for name, user in users.items() if may(user, "topic", notices, "Read")}
    assert readers == {"carnet-notification"}
    for service in ("wallet", "redemption"):  # contact addresses and bank details never reach them
        assert not may(users[f"carnet-{service}"], "topic", notices, "Read")
        assert not may(users[f"carnet-{service}"], "topic", f"{notices}.dlt", "Read")


def test_the_acl_matcher_knows_wildcards_and_prefixes():
    user = {"spec": {"authorization": {"acls": [
        {"type": "allow", "resource": {"type": "topic", "name": "affiliation.", "patternType": "prefix"},
         "operations": ["Read"]},
        {"type": "allow", "resource": {"type": "group", "name": "*", "patternType": "literal"},
         "operations": ["All"]},
    ]}}}
    assert may(user, "topic", "affiliation.notices", "Read")
    assert not may(user, "topic", "wallet.tickets", "Read")
    assert may(user, "group", "anything", "Describe")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_topic_keeps_its_records_as_long_as_the_local_stack_and_the_inventories_say(overlay, built):
    """7 days on a topic, 28 on a dead-letter topic: the same configs carnet_local.kafka.create_topics
    gives the local topics, so that the privacy.toml inventories are true in both places."""
    for topic in (o for o in built[overlay] if o["kind"] == "KafkaTopic"):
        name = topic["spec"]["topicName"]
        config = {key: str(value) for key, value in topic["spec"]["config"].items()}
        expected = topic_configs(dead_letter=name.endswith(".dlt"))
        assert {key: config.get(key) for key in expected} == expected, name
