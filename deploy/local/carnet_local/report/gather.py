"""What `carnet report` asks the services, with an admin token: the campaign, the schools' names, and
each service's figures for it (`GET /v1/stats`). Five requests whatever the campaign's size: the
affiliates' figures come in the affiliation service's one answer, never one statement at a time."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from typing import Any

import httpx

from carnet_contracts.calendar import paris_day

from ..endpoints import Endpoints, ToolError
from .figures import figures


class Gatherer:
    def __init__(self, endpoints: Endpoints, admin_headers: dict[str, str],
                 transport: httpx.AsyncBaseTransport | None = None):
        self.ep = endpoints
        self.headers = admin_headers
        self.transport = transport  # None: the network (a test may answer for the services)
        self.http: httpx.AsyncClient

    async def get(self, url: str, **params: Any) -> Any:
        try:
            answer = await self.http.get(url, params={k: v for k, v in params.items() if v is not None},
                                         headers=self.headers)
        except httpx.HTTPError as exc:
            raise ToolError(f"{url} unreachable ({exc.__class__.__name__}): is the stack up (`carnet stack up`)?") from None
        if answer.status_code != 200:
            raise ToolError(f"GET {url} answered {answer.status_code} {answer.text[:300]}")
        return answer.json()

    async def campaign(self, campaign_id: str | None) -> dict[str, Any]:
        if campaign_id:
            return await self.get(f"{self.ep.enrolment}/v1/campaigns/{campaign_id}")
        campaigns = await self.get(f"{self.ep.enrolment}/v1/campaigns")
        if not campaigns:
            raise ToolError("no campaign published yet (`carnet demo` publishes one)")
        # the campaign of the year: the one whose enrolment opened last
        return max(campaigns, key=lambda c: (c["enrolment_opens"], c["campaign_id"]))

    async def gather(self, campaign_id: str | None = None, as_of: date | None = None) -> dict[str, Any]:
        async with httpx.AsyncClient(timeout=60, transport=self.transport) as self.http:
            campaign = await self.campaign(campaign_id)
            cid = campaign["campaign_id"]
            today = paris_day(datetime.now(UTC))
            enrolment, schools, wallet, affiliation = await asyncio.gather(
                self.get(f"{self.ep.enrolment}/v1/stats", campaign_id=cid),
                self.get(f"{self.ep.enrolment}/v1/schools"),
                self.get(f"{self.ep.wallet}/v1/stats", campaign_id=cid, as_of=(as_of or today).isoformat()),
                self.get(f"{self.ep.affiliation}/v1/stats", campaign_id=cid),
            )
        return figures(campaign, enrolment, wallet, affiliation, schools, today)


async def gather(endpoints: Endpoints, admin_headers: dict[str, str], campaign_id: str | None = None,
                 as_of: date | None = None) -> dict[str, Any]:
    """The campaign's figures (the latest opened campaign by default), its budget committed as of
    `as_of` (today in Paris by default)."""
    return await Gatherer(endpoints, admin_headers).gather(campaign_id, as_of)
