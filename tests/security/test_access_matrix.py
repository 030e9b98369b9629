"""Issue 12, "Must show": every operation of every service, read from the OpenAPI document it serves,
tried with every kind of token it must refuse, on the five services running as their own processes:
no token, expired, signed by a key pair not in the keys directory, `alg: none`, HS256 keyed with a
public key, for another audience, signed by a key that may not sign the role (401 for all of these);
every role the document does not name, and another family's, school's or affiliate's token on
real things of theirs (403, or 404 where existence must not leak)."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import pytest

from .conftest import Carnet
from .matrix import Matrix, run, table

pytestmark = pytest.mark.integration


def test_every_operation_that_needs_a_token_names_the_roles_it_lets_in(carnet: Carnet):
    print(f"\npublic operations (no token needed, not in the matrix): "
          f"{', '.join(f'{op.service} {op.label}' for op in carnet.catalogue.public)}")
    assert not carnet.catalogue.undocumented, (
        "documented as needing no token (x-carnet-roles: []) yet answering 401 AUTHENTICATION_REQUIRED without one "
        "(the roles it lets in, found by calling it): "
        + "; ".join(f"{op.service} {op.label} -> {', '.join(roles) or 'none'}" for op, roles in carnet.catalogue.undocumented))


def test_every_operation_refuses_every_token_it_must_refuse(carnet: Carnet):
    matrix = Matrix(carnet.world, carnet.forger, carnet.services.urls)
    for op, roles in carnet.catalogue.with_roles():
        matrix.build(op, roles)
    started = time.monotonic()
    asyncio.run(run(matrix.attempts))
    seconds = time.monotonic() - started
    asyncio.run(run(matrix.controls))  # after: the right tokens do change things

    attempts = matrix.attempts
    refused = sum(a.refused for a in attempts)
    own_data = sum(a.own_data_only for a in attempts)
    failed = [a for a in attempts if not a.passed]
    operations = len(carnet.catalogue.with_roles())
    print(f"\ntoken matrix: {len(attempts)} attempts on {operations} operations in {seconds:.0f} s, {refused} refused"
          + (f", {own_data} reads by another tenant answered with the caller's own data only" if own_data else ""))
    print(table(attempts))
    for attempt in (a for a in attempts if a.own_data_only):
        print(f"  own data only: {attempt.op.service} {attempt.request.describe()} [{attempt.detail}]: 200, none of A's")
    broken = [c for c in matrix.controls if not c.passed]
    answers = Counter(c.status for c in matrix.controls)
    print(f"controls: {len(matrix.controls)} of the same requests with the right token (side A's), "
          f"{len(matrix.controls) - len(broken)} past the door ("
          + ", ".join(f"{status}×{n}" for status, n in sorted(answers.items())) + ")")
    assert not failed, f"{len(failed)} attempts not refused:\n" + "\n".join(a.describe() for a in failed)
    assert not broken, ("the right token was refused too, so these attempts prove nothing:\n"
                        + "\n".join(c.describe() for c in broken))
