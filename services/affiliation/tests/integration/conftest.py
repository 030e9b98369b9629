"""What the affiliation service's integration modules share: an HTTP client on the module's own
`affiliation` process (each module starts that process with the settings it needs)."""

from __future__ import annotations

import httpx
import pytest


@pytest.fixture
async def http(affiliation):
    async with httpx.AsyncClient(base_url=affiliation.url, timeout=30) as client:
        yield client
