"""Issue 12, "Must show": schemathesis run against the OpenAPI document each service serves, on the five
services running as their own processes: no 5xx, and every answer with a status code, a content type
and a body its document declares for that operation.

Each operation gets requests that fit its document and requests that do not (schemathesis's positive
and negative modes), half of them naming the real things of side A of the test's world (its school,
wallet, affiliate...), so that requests get past the 404s into the rules; with an admin token when
the operation lets the admin in, otherwise a token of the first role it lets in (side A's family,
correspondent or affiliate; the roles its document names, or those found by calling it when the
document names none). CARNET_SCHEMATHESIS_EXAMPLES sets the examples per operation and mode.
"""

from __future__ import annotations

import os
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import hypothesis.strategies as st
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.errors import FailureGroup

from .conftest import Carnet

pytestmark = pytest.mark.integration

EXAMPLES = int(os.environ.get("CARNET_SCHEMATHESIS_EXAMPLES", "5"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
PREFERRED_ROLES = ("admin", "family", "correspondent", "affiliate", "service")


@dataclass
class Findings:
    operations: Counter = field(default_factory=Counter)
    requests: Counter = field(default_factory=Counter)
    seconds: Counter = field(default_factory=Counter)
    statuses: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    failures: dict[tuple[str, str, str], str] = field(default_factory=dict)  # (service, operation, check) -> first report


def fuzz(carnet: Carnet, service: str, findings: Findings, session: requests.Session) -> None:
    started = time.monotonic()
    url = carnet.services.url(service)
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    a = carnet.world.a
    for result in schema.get_all_operations():
        operation = result.ok()
        roles = carnet.catalogue.roles(service, operation.method, operation.path)
        role = next((r for r in PREFERRED_ROLES if r in roles), None)
        headers = {}
        if role is not None:
            scope = operation.definition.raw.get("x-carnet-service-scope") if role == "service" else None
            headers["Authorization"] = f"Bearer {carnet.stack.token(role, **a.claims(role), scope=scope)}"
        values = a.values_for(role or "")
        real = {p.name: str(values[p.name]) for p in operation.path_parameters if p.name in values}
        variants = [None, real] if real else [None]
        strategy = st.one_of(*(operation.as_strategy(mode, path_parameters=parameters)
                               for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE) for parameters in variants))
        findings.operations[service] += 1

        @settings(max_examples=EXAMPLES * 2 * len(variants), deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
        @given(case=strategy)
        def one(case: schemathesis.Case) -> None:
            # negative cases drop the token among the required headers: the matrix tries that; here, keep it
            case.headers = {**(case.headers or {}), **headers}
            response = case.call(base_url=url, session=session, timeout=30)
            findings.requests[service] += 1
            findings.statuses[service][response.status_code] += 1
            try:
                case.validate_response(response, checks=CHECKS, headers=headers)
            except FailureGroup as group:
                for failure in group.exceptions:
                    key = (service, operation.label, type(failure).__name__)
                    findings.failures.setdefault(key, f"{failure.title}: {failure.message}\n{case.as_curl_command()}"[:1500])

        one()
    findings.seconds[service] += time.monotonic() - started


def test_every_service_answers_as_its_openapi_document_says(carnet: Carnet):
    findings = Findings()
    with requests.Session() as session:
        for service in carnet.services.urls:
            fuzz(carnet, service, findings, session)
    print(f"\nschemathesis ({schemathesis.__version__}, {EXAMPLES} examples per operation and mode, twice where real "
          f"path parameters exist; checks: {', '.join(c.__name__ for c in CHECKS)}):")
    for service in carnet.services.urls:
        statuses = ", ".join(f"{s}×{n}" for s, n in sorted(findings.statuses[service].items()))
        print(f"  {service:<13} {findings.operations[service]:>3} operations, {findings.requests[service]:>5} requests "
              f"in {findings.seconds[service]:.0f} s ({statuses})")
    print(f"  total         {sum(findings.operations.values()):>3} operations, {sum(findings.requests.values()):>5} "
          f"requests, {len(findings.failures)} distinct failures")
    assert not findings.failures, "\n\n".join(f"{service} {label} [{kind}]\n{report}"
                                              for (service, label, kind), report in findings.failures.items())
