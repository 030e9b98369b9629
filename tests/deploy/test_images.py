"""Static checks of deploy/docker/Dockerfile (no Docker engine runs here or in CI to build it)."""

from __future__ import annotations

import re

from .conftest import K8S, REPO

DOCKERFILE = REPO / "deploy" / "docker" / "Dockerfile"
COMPILERS = re.compile(r"\b(gcc|g\+\+|clang|build-essential|make|cc|rustc|cargo|python3-dev|libpq-dev)\b")


def _stages() -> dict[str, list[str]]:
    """{stage name: its instructions}, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    stages: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = re.match(r"FROM\s+(\S+)\s+AS\s+(\S+)", line, re.IGNORECASE)
        if match:
            current = match.group(2)
            stages[current] = [line]
        elif current:
            stages[current].append(line)
    return stages


def test_the_image_is_multi_stage_from_one_base_for_every_service():
    stages = _stages()
    assert list(stages) == ["build", "runtime"]
    assert {lines[0].split()[1] for lines in stages.values()} == {"${PYTHON_IMAGE}"}
    assert any(line.startswith("ARG SERVICE") for line in stages["build"])
    assert any(line.startswith("ARG SERVICE") for line in stages["runtime"])


def test_the_final_stage_runs_as_a_non_root_user_and_carries_no_compiler():
    runtime = _stages()["runtime"]
    users = [line.split()[1] for line in runtime if line.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in ("0", "root")
    assert not [line for line in runtime if COMPILERS.search(line) and line.startswith("RUN")]
    assert not [line for line in runtime if "apt-get install" in line or "pip install" in line]


def test_the_build_installs_exactly_the_locked_dependencies_without_dev_tools():
    sync = [line for line in _stages()["build"] if "uv sync" in line]
    assert sync and "--frozen" in sync[0] and "--no-dev" in sync[0] and '--package "carnet-${SERVICE}"' in sync[0]


def test_the_user_of_the_image_is_the_user_the_pods_run_as():
    runtime = _stages()["runtime"]
    uid = [line.split()[1] for line in runtime if line.startswith("USER ")][-1].split(":")[0]
    deployment = (K8S / "base" / "services" / "wallet.yaml").read_text()
    assert f"runAsUser: {uid}" in deployment


def test_every_service_has_what_the_final_stage_copies():
    for service in ("enrolment", "wallet", "redemption", "affiliation", "notification"):
        assert (REPO / "services" / service / service / "__main__.py").is_file(), service
        assert sorted((REPO / "services" / service / "migrations").glob("0001_*.sql")), service
