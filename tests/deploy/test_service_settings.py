"""Offline checks that each Deployment gives its service what the service's own settings class needs: every
setting without a default (its keys, from Secrets, one per key family), its own signing key beside every
signer's public key in its keys directory, and the proxies whose X-Forwarded-For it believes."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from carnet_runtime.auth import DEFAULT_SIGNER_ROLES, SERVICE_SIGNER_PREFIX, signer_of
from carnet_runtime.documents import placeholder_environment

from .conftest import OVERLAYS, SERVICES

PUBLIC_KEYS = "carnet-jwt-public-keys"  # ops create it: one <kid>.pub.pem per trusted signer (RUNBOOK.md)
TRUSTED_PROXIES = {"name": "carnet-trusted-proxies", "key": "addresses"}
# What the API server accepts as a ConfigMap's or a Secret's key: no `@`, so a labelled signing key
# (`<signer>@<label>.pem`) is stored under another name and projected under its kid.
CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")


def _by_name(objects, kind):
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def _pod(objects, service):
    return _by_name(objects, "Deployment")[f"carnet-{service}"]["spec"]["template"]["spec"]


def _variables(objects, service) -> dict[str, dict]:
    """Every variable the service's container gets: {name: {"value": ...} or {"valueFrom": ...}}."""
    container = _pod(objects, service)["containers"][0]
    config_maps = _by_name(objects, "ConfigMap")
    variables = {}
    for source in container.get("envFrom", []):
        for name, value in config_maps[source["configMapRef"]["name"]]["data"].items():
            variables[name] = {"value": value}
    for variable in container.get("env", []):
        variables[variable["name"]] = {k: v for k, v in variable.items() if k != "name"}
    return variables


def _settings_as_deployed(objects, service, settings_class):
    """The service's settings built from what its Deployment sets; what comes from Secrets (or from a
    ConfigMap ops create) is stood in for by throwaway values."""
    with placeholder_environment():
        for name, variable in _variables(objects, service).items():
            if "value" in variable:
                os.environ[name] = variable["value"]
            elif "configMapKeyRef" in variable["valueFrom"]:
                os.environ.setdefault(name, "")
        return settings_class()


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_service_gets_every_setting_its_settings_declare_without_a_default_from_a_secret(
        overlay, built, services):
    for service in SERVICES:
        variables = _variables(built[overlay], service)
        assert services[service].required or service == "enrolment", "the settings classes lost their keys?"
        for names in services[service].required:
            given = [n for n in names if n in variables]
            assert given, f"{service}: none of {names} is set: the service would not start"
            for name in given:
                # a setting without a safe default is a key (services/runtime/README.md): never in a ConfigMap
                assert "secretKeyRef" in variables[name].get("valueFrom", {}), (service, name)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_key_family_comes_from_one_secret_of_its_own_whichever_service_reads_it(overlay, built, services):
    sources: dict[str, set[tuple[str, str]]] = {}
    for service in SERVICES:
        variables = _variables(built[overlay], service)
        for names in services[service].required:
            for name in (n for n in names if n in variables):
                ref = variables[name]["valueFrom"]["secretKeyRef"]
                sources.setdefault(name, set()).add((ref["name"], ref["key"]))
    assert {"CARNET_TICKET_CODE_HASH_KEY", "CARNET_SEAL_KEY", "CARNET_WALLET_CODE_KEYS",
            "CARNET_AFFILIATION_SECRET_KEY"} <= set(sources)
    for name, refs in sources.items():
        assert len(refs) == 1, f"{name}: services sharing a key must read the same Secret, not {refs}"
    secrets = [next(iter(refs))[0] for refs in sources.values()]
    assert len(secrets) == len(set(secrets)), "one Secret per key family: rotating one never touches another"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_service_finds_its_own_signing_key_beside_every_signers_public_key(overlay, built, services):
    for service in SERVICES:
        settings = _settings_as_deployed(built[overlay], service, services[service].settings_class)
        pod = _pod(built[overlay], service)
        (mount,) = [m for m in pod["containers"][0]["volumeMounts"] if Path(m["mountPath"]) == settings.keys_dir]
        assert mount["readOnly"] is True and "subPath" not in mount  # a subPath would never see a new key
        (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
        sources = volume["projected"]["sources"]
        public = [s["configMap"] for s in sources if "configMap" in s]
        assert {"name": PUBLIC_KEYS} in public, "every public key of the ConfigMap, with no item list"
        for source in public:  # and, during a rotation, labelled ones under their kid (RUNBOOK.md)
            assert source["name"] == PUBLIC_KEYS
            assert all(item["path"].endswith(".pub.pem") for item in source.get("items", []))
        private = {s["secret"]["name"]: {i["path"] for i in s["secret"]["items"]} for s in sources if "secret" in s}
        # its own service tokens: `service.<name>[@label].pem`, from a Secret of its own
        signing = settings.signing_key_path
        assert signing.parent == settings.keys_dir
        assert signer_of(signing.name.removesuffix(".pem")) == f"{SERVICE_SIGNER_PREFIX}{service}"
        assert signing.name in private.pop(f"carnet-service-{service}-signing-key"), service
        if service == "affiliation":  # and affiliate tokens, with a key bound to the affiliate role
            affiliate = settings.affiliate_key_path
            assert affiliate.parent == settings.keys_dir
            assert "affiliate" in DEFAULT_SIGNER_ROLES[signer_of(affiliate.name.removesuffix(".pem"))]
            assert affiliate.name in private.pop("carnet-affiliation-signing-key")
        assert not private, f"{service} must hold no other signer's private key: {sorted(private)}"
        assert volume["projected"]["defaultMode"] == 0o440


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_service_believes_x_forwarded_for_only_from_the_proxies_ops_name_in_one_config_map(overlay, built):
    for service in SERVICES:
        variable = _variables(built[overlay], service)["CARNET_TRUSTED_PROXIES"]
        assert variable == {"valueFrom": {"configMapKeyRef": TRUSTED_PROXIES}}, service  # not optional
    # the addresses are the cluster's own (RUNBOOK.md): no guess ships with the manifests
    assert TRUSTED_PROXIES["name"] not in _by_name(built[overlay], "ConfigMap")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_key_a_pod_reads_from_a_secret_or_config_map_is_a_name_kubernetes_accepts(overlay, built):
    for service in SERVICES:
        pod = _pod(built[overlay], service)
        keys = []
        for volume in pod["volumes"]:
            for source in volume.get("projected", {}).get("sources", []) + [volume]:
                for kind in ("secret", "configMap"):
                    keys += [item["key"] for item in source.get(kind, {}).get("items", [])]
        for container in pod["containers"] + pod["initContainers"]:
            for variable in container.get("env", []):
                for ref in variable.get("valueFrom", {}).values():
                    keys.append(ref["key"])
        assert keys
        assert [key for key in keys if not CONFIG_KEY.match(key)] == [], service
