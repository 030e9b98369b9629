"""What the routes read from paths and query strings beyond pydantic's own types."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from pydantic import StringConstraints

from carnet_runtime import Refusal
from carnet_runtime.errors import invalid_fields

from ..domain import MAX_TICKETS_PER_SHEET

# Ids of other services are opaque, but never free text: this keeps control bytes away from SQL.
OpaqueId = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._:-]+$")]
CampaignId = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")]
# A school prints at most this many pupils' tickets in one PDF.
MAX_WALLETS_PER_SCHOOL_SHEET = 200


def parse_positions(text: str | None) -> list[int] | None:
    if text is None or not text.strip():
        return None
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise Refusal("POSITIONS_INVALID",
                      f"Choisissez de 1 à {MAX_TICKETS_PER_SHEET} tickets différents à imprimer.",
                      {"positions": text}) from None


def parse_wallet_ids(text: str) -> list[UUID]:
    """`ID,ID,...`: 1 to 200 wallet ids, each once, in the order given."""
    ids: list[UUID] = []
    try:
        for part in text.split(","):
            if part.strip() and (wallet_id := UUID(part.strip())) not in ids:
                ids.append(wallet_id)
    except ValueError:
        raise invalid_fields({"wallet_ids": "des identifiants de porte-monnaie séparés par des virgules"}) from None
    if not 1 <= len(ids) <= MAX_WALLETS_PER_SCHOOL_SHEET:
        raise invalid_fields({"wallet_ids": f"de 1 à {MAX_WALLETS_PER_SCHOOL_SHEET} porte-monnaie par impression"})
    return ids
