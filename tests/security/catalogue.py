"""The operations sorted by who may call them: what their documents say (`x-carnet-roles`), checked for
the ones documented as public by a call without a token."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import httpx

from carnet_runtime.auth import ROLES

from .operations import Operation, call, send
from .world import Tenant


@dataclass
class Catalogue:
    public: list[Operation]     # documented as needing no token, and answering without one
    protected: list[Operation]  # documented roles
    undocumented: list[tuple[Operation, tuple[str, ...]]]  # need a token their document does not name: roles found

    def roles(self, service: str, method: str, path: str) -> tuple[str, ...]:
        """Who may call an operation: its documented roles, or the ones found by calling it."""
        for op in self.protected:
            if (op.service, op.method, op.path) == (service, method.lower(), path):
                return op.roles
        for op, roles in self.undocumented:
            if (op.service, op.method, op.path) == (service, method.lower(), path):
                return roles
        return ()

    def with_roles(self) -> list[tuple[Operation, tuple[str, ...]]]:
        return [(op, op.roles) for op in self.protected] + [(op, roles) for op, roles in self.undocumented if roles]


async def sort_operations(ops: list[Operation], urls: dict[str, str], side: Tenant,
                          token: Callable[..., str]) -> Catalogue:
    """An operation documented as public that answers 401 AUTHENTICATION_REQUIRED without a token gets
    the roles it lets in, found by calling it with each role's valid token on made-up ids (so that
    nothing changes): every role not refused with 401 or 403."""
    public, protected, undocumented = [], [], []
    async with httpx.AsyncClient(timeout=30) as client:
        for op in ops:
            if op.roles:
                protected.append(op)
                continue
            url = urls[op.service]
            answer = await send(client, call(op, url, side.values))
            if answer.status_code != 401 or _code(answer) != "AUTHENTICATION_REQUIRED":
                public.append(op)
                continue
            allowed = []
            for role in ROLES:
                scope = op.service_scope if role == "service" else None
                answer = await send(client, call(op, url, {}, token=token(role, **side.claims(role), scope=scope)))
                if answer.status_code not in (401, 403):
                    allowed.append(role)
            undocumented.append((op, tuple(allowed)))
    return Catalogue(public, protected, undocumented)


def _code(answer: httpx.Response) -> str | None:
    try:
        return answer.json().get("error", {}).get("code")
    except (ValueError, AttributeError):
        return None
