"""deploy/observability: the alert rules and the dashboard only query metrics the services really export."""

from __future__ import annotations

import json
import re

import pytest
import yaml
from prometheus_client import REGISTRY

from .conftest import REPO

OBSERVABILITY = REPO / "deploy" / "observability"
METRIC = re.compile(r"\bcarnet_[a-z_]+\b")


@pytest.fixture(scope="module")
def exported(consumed_topics) -> set[str]:
    """Every series name the runtime and the services register (their modules are imported by building them)."""
    import carnet_runtime.consumer_watch  # noqa: F401  (registered when a service starts; imported here for its names)
    import carnet_runtime.lag  # noqa: F401

    return set(REGISTRY._names_to_collectors)


def _alert_rules() -> list[dict]:
    document = yaml.safe_load((OBSERVABILITY / "alerts.yaml").read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def _dashboard_queries() -> list[str]:
    dashboard = json.loads((OBSERVABILITY / "grafana-dashboard.json").read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]


def test_every_alert_rule_is_complete_and_points_to_the_runbook():
    runbook = (REPO / "deploy" / "RUNBOOK.md").read_text()
    anchors = {re.sub(r"[^a-z0-9 -]", "", h.lower()).replace(" ", "-") for h in re.findall(r"^#+ (.+)$", runbook, re.M)}
    for rule in _alert_rules():
        assert rule["labels"]["severity"] in ("warning", "critical"), rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        assert rule["annotations"]["runbook"].split("#")[1] in anchors, rule["alert"]


def test_the_alerts_cover_a_growing_outbox_a_stuck_consumer_and_failing_emails():
    rules = {rule["alert"]: rule["expr"] for rule in _alert_rules()}
    assert "carnet_outbox_pending_events" in rules["CarnetOutboxGrowing"]
    assert "carnet_consumer_lag" in rules["CarnetConsumerStuck"]
    assert 'outcome="failed"' in rules["CarnetEmailsFailing"]


def test_alerts_and_dashboard_query_only_metrics_that_exist(exported):
    queries = [rule["expr"] for rule in _alert_rules()] + _dashboard_queries()
    unknown = {name for query in queries for name in METRIC.findall(query)} - exported
    assert not unknown, f"queried but exported by no service: {sorted(unknown)}"


def test_the_dashboard_shows_redemptions_outbox_lag_emails_wallets_and_credits():
    queries = "\n".join(_dashboard_queries())
    for needed in ("carnet_redemption_answers_total", 'route="/v1/redemptions"', "carnet_outbox_pending_events",
                   "carnet_outbox_oldest_pending_age_seconds", "carnet_consumer_lag", "carnet_notification_attempts_total",
                   'event_type="PassGranted"', "carnet_wallet_credits_total"):
        assert needed in queries, needed
