"""`carnet privacy export --email E`: what every service holds about one guardian and their
children, gathered into one JSON document with an admin token (API.md, Privacy)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import httpx

from .endpoints import Endpoints, ToolError

# The services that hold personal data about families (API.md, Privacy: "every service that holds
# personal data"); the others answer 404 on the route, which the export records as "nothing held".
SERVICES = ("enrolment", "wallet", "redemption", "affiliation", "notification")


async def export(endpoints: Endpoints, admin_headers: dict[str, str], email: str) -> dict[str, Any]:
    async def one(client: httpx.AsyncClient, service: str) -> tuple[str, Any]:
        url = f"{getattr(endpoints, service)}/v1/privacy/export"
        try:
            answer = await client.get(url, params={"email": email}, headers=admin_headers)
        except httpx.HTTPError as exc:
            raise ToolError(f"{url} unreachable ({exc.__class__.__name__}): is the stack up (`carnet stack up`)?") from None
        if answer.status_code == 404 and answer.json().get("error", {}).get("code") == "NOT_FOUND":
            return service, {"holds": "nothing about families"}
        if answer.status_code != 200:
            raise ToolError(f"GET {url} answered {answer.status_code} {answer.text[:300]}")
        return service, answer.json()

    async with httpx.AsyncClient(timeout=30) as client:
        parts = await asyncio.gather(*(one(client, service) for service in SERVICES))
    return {"email": email, "exported_at": datetime.now(UTC).isoformat(), "services": dict(parts)}
