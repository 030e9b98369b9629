"""What every router reads from a request beyond its parameters."""

from __future__ import annotations

from fastapi import Request


def client_address(request: Request) -> str | None:
    """The client as the server sees it: the peer, or the client a configured proxy forwarded
    (uvicorn believes X-Forwarded-For only from CARNET_TRUSTED_PROXIES; never read it here)."""
    return request.client.host if request.client else None
