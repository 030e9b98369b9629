"""The attempts of the token matrix: for each operation that needs a token, every way of presenting
a token it must refuse, and what the service answered."""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx

from carnet_runtime.auth import ROLES, SERVICES

from .forged import SIGNERS, Forger, may_sign, right_signer
from .operations import Call, Operation, call, send
from .world import Tenant, World

UNAUTHENTICATED = frozenset({401})
OUT_OF_SCOPE = frozenset({403, 404})
TOKEN_FAULTS = ("no token", "expired", "wrong key", "alg none", "HS256 with public key", "wrong audience",
                "key may not sign role")
FAULTS = (*TOKEN_FAULTS, "wrong role", "other tenant")
TENANT_ROLES = ("family", "correspondent", "affiliate")


@dataclass
class Attempt:
    op: Operation
    fault: str
    detail: str
    request: Call
    expected: frozenset[int]  # the answers that refuse it (for a control: the answers it must not get)
    leak_markers: tuple[str, ...] = ()  # the victim's data an answer must not hold (other tenant)
    control: bool = False  # the same request with the right token: it gets past the door
    status: int | None = None
    code: str | None = None
    answer: str = ""

    @property
    def refused(self) -> bool:
        return self.status in self.expected

    @property
    def own_data_only(self) -> bool:
        """A read by another tenant answered with the caller's own data: nothing of the victim's."""
        return (self.fault == "other tenant" and self.op.method == "get" and self.status == 200
                and not any(marker in self.answer for marker in self.leak_markers))

    @property
    def passed(self) -> bool:
        return not self.refused if self.control else self.refused or self.own_data_only

    def describe(self) -> str:
        expected = f"{'not ' if self.control else ''}{'/'.join(map(str, sorted(self.expected)))}"
        return (f"{self.op.service}: {self.op.label} [{self.fault}: {self.detail}] {self.request.describe()} "
                f"answered {self.status} {self.code or ''} {self.answer[:200]!r} (expected {expected})")


@dataclass
class Matrix:
    """The attempts for each operation, given the roles it lets in (documented, or found by calling
    when its document names none), and the controls: the same requests with the right token."""

    world: World
    forger: Forger
    urls: dict[str, str]
    attempts: list[Attempt] = field(default_factory=list)
    controls: list[Attempt] = field(default_factory=list)

    def claims(self, op: Operation, role: str, side: Tenant, **overrides: Any) -> dict[str, Any]:
        scope = op.service_scope if role == "service" else None
        return self.forger.claims(role, scope=scope, **(side.claims(role) | overrides))

    def token(self, op: Operation, role: str, side: Tenant) -> str:
        claims = self.claims(op, role, side)
        return self.forger.signed(claims, right_signer(role, claims["sub"]))

    def add(self, op: Operation, fault: str, detail: str, token: str | None, expected: frozenset[int],
            values: dict[str, Any], *, control: bool = False) -> None:
        request = call(op, self.urls[op.service], values, token=token)
        markers = tuple(self.world.a.secrets()) if fault == "other tenant" else ()
        (self.controls if control else self.attempts).append(
            Attempt(op, fault, detail, request, expected, markers, control))

    def build(self, op: Operation, roles: tuple[str, ...]) -> None:
        a, forger = self.world.a, self.forger
        role = next((r for r in roles if r in TENANT_ROLES), roles[0])
        values = a.values_for(role)
        good = self.claims(op, role, a)
        signer = right_signer(role, good["sub"])

        def refused_401(fault: str, detail: str, token: str | None) -> None:
            self.add(op, fault, detail, token, UNAUTHENTICATED, values)

        refused_401("no token", "no Authorization header", None)
        expired = self.claims(op, role, a, ttl_seconds=-300)
        refused_401("expired", f"{role}, expired 5 min ago", forger.signed(expired, signer))
        refused_401("wrong key", f"{role}, kid {signer}, a key pair not in the keys dir", forger.foreign(good, signer))
        refused_401("alg none", f"{role}, unsigned", forger.unsigned(good, signer))
        refused_401("HS256 with public key", f"{role}, HMAC keyed with {signer}.pub.pem",
                    forger.hmac_with_public_key(good, signer))
        others = tuple(s for s in SERVICES if s != op.service)
        refused_401("wrong audience", f"{role}, aud {','.join(others)}",
                    forger.signed(good | {"aud": list(others)}, signer))
        for allowed in roles:
            claims = self.claims(op, allowed, a)
            for wrong_signer in (s for s in SIGNERS if not may_sign(s, allowed, claims["sub"])):
                refused_401("key may not sign role", f"{allowed} signed by {wrong_signer}",
                            forger.signed(claims, wrong_signer))
        for wrong in (r for r in ROLES if r not in roles):
            claims = self.claims(op, wrong, a)
            if wrong == "service":
                claims["scope"] = op.service_scope or "wallet.tickets_pdf"
            self.add(op, "wrong role", wrong, forger.signed(claims, right_signer(wrong, claims["sub"])), OUT_OF_SCOPE,
                     values)
        if "service" in roles and op.service_scope:
            claims = self.claims(op, "service", a) | {"scope": "some.other_call"}
            self.add(op, "wrong role", "service without the route's scope",
                     forger.signed(claims, right_signer("service", claims["sub"])), OUT_OF_SCOPE, values)
        self.add(op, "control", f"{role} A, the right token", forger.signed(good, signer), UNAUTHENTICATED, values,
                 control=True)
        self.build_other_tenant(op, roles)

    def build_other_tenant(self, op: Operation, roles: tuple[str, ...]) -> None:
        """Side B's token of each allowed tenant role on side A's things (path and query); and, when the
        path names the caller's own things, side A's in the query. Control: side A's token on them.
        A list a tenant reads (its applications, its redemptions) read by side B holds nothing of A's."""
        if op.open_to_everyone:
            return
        a, b = self.world.a, self.world.b
        if not op.tenant_parameters():
            is_list = op.method == "get" and not any(p["in"] == "path" for p in op.parameters)
            for role in (r for r in roles if r in TENANT_ROLES and is_list):
                self.add(op, "other tenant", f"{role} B's list holds nothing of A's", self.token(op, role, b),
                         OUT_OF_SCOPE, b.values_for(role))
            return
        in_path, in_query = op.tenant_parameters("path"), op.tenant_parameters("query")
        for role in (r for r in roles if r in TENANT_ROLES):
            victims = a.values_for(role)
            self.add(op, "other tenant", f"{role} B on A's {', '.join(sorted(op.tenant_parameters()))}",
                     self.token(op, role, b), OUT_OF_SCOPE, victims)
            if in_path:
                self.add(op, "control", f"{role} A on its own {', '.join(sorted(op.tenant_parameters()))}",
                         self.token(op, role, a), UNAUTHENTICATED | OUT_OF_SCOPE, victims, control=True)
            if in_path and in_query:
                mixed = victims | {name: b.values_for(role)[name] for name in in_path}
                self.add(op, "other tenant", f"{role} B on its own {', '.join(sorted(in_path))} with A's "
                         f"{', '.join(sorted(in_query))}", self.token(op, role, b), OUT_OF_SCOPE, mixed)


async def run(attempts: Iterable[Attempt], concurrency: int = 8) -> None:
    limit = asyncio.Semaphore(concurrency)

    async def one(client: httpx.AsyncClient, attempt: Attempt) -> None:
        async with limit:
            answer = await send(client, attempt.request)
        attempt.status, attempt.answer = answer.status_code, answer.text
        try:
            attempt.code = answer.json().get("error", {}).get("code")
        except (ValueError, AttributeError):
            attempt.code = None

    async with httpx.AsyncClient(timeout=30) as client:
        await asyncio.gather(*(one(client, attempt) for attempt in attempts))


def table(attempts: list[Attempt]) -> str:
    """Attempts (refused) per service and fault."""
    cells: dict[tuple[str, str], Counter] = defaultdict(Counter)
    for attempt in attempts:
        cells[attempt.op.service, attempt.fault]["n"] += 1
        cells[attempt.op.service, attempt.fault]["ok"] += attempt.passed
    services = sorted({a.op.service for a in attempts})
    width = max(len(f) for f in FAULTS)
    lines = [f"{'':<{width}} " + " ".join(f"{s:>13}" for s in services) + f" {'total':>13}"]
    for fault in FAULTS:
        row = [cells[s, fault] for s in services]
        total = sum(row, Counter())
        lines.append(f"{fault:<{width}} " + " ".join(f"{c['ok']:>6}/{c['n']:<6}" for c in row)
                     + f" {total['ok']:>6}/{total['n']:<6}")
    return "\n".join(lines)
