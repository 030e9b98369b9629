"""Kafka authentication comes from settings (a Strimzi KafkaUser in production)."""

from __future__ import annotations


def test_kafka_credentials_when_configured_and_none_locally(monkeypatch, tmp_path):
    from faststream.security import SASLScram512

    from carnet_runtime.service import kafka_security
    from carnet_runtime.settings import ServiceSettings

    assert kafka_security(ServiceSettings()) is None
    monkeypatch.setenv("CARNET_KAFKA_SASL_USERNAME", "carnet-wallet")
    monkeypatch.setenv("CARNET_KAFKA_SASL_PASSWORD", "s3cret")
    security = kafka_security(ServiceSettings())
    assert isinstance(security, SASLScram512) and security.username == "carnet-wallet"
