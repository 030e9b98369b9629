"""A minimal service on the runtime, for the runtime's own fault tests.

As `source` it writes SchoolRegistered events through its outbox; as `sink` it applies them
into a table with NO uniqueness, so that any event applied twice shows up as a duplicate row.
A school named "poison" makes the sink's handler fail, for the dead-letter test.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

from fastapi import APIRouter
from pydantic import BaseModel
from pydantic_settings import SettingsConfigDict

from carnet_contracts.events import SchoolRegistered
from carnet_runtime import Service, ServiceSettings, run


class ProbeSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CARNET_PROBE_", extra="ignore")
    service_name: ClassVar[str] = "probe"
    role: str = "sink"


class Emit(BaseModel):
    start: int = 0
    count: int = 100
    per_transaction: int = 1
    name: str = "École"


def build() -> Service:
    settings = ProbeSettings()
    service = Service(settings, title="probe", migrations=Path(__file__).parent / "migrations")
    router = APIRouter()

    @router.post("/emit")
    async def emit(body: Emit) -> dict:
        numbers = list(range(body.start, body.start + body.count))
        for i in range(0, len(numbers), body.per_transaction):
            async with service.transaction() as conn:
                for n in numbers[i : i + body.per_transaction]:
                    await service.outbox.add(
                        conn,
                        SchoolRegistered(school_id=f"s{n}", name=body.name, postcode="92100", city="Boulogne"),
                    )
        return {"emitted": len(numbers)}

    @router.get("/applied")
    async def applied() -> dict:
        rows = await service.pool.fetch("SELECT school_id, count(*) AS n FROM applied GROUP BY school_id")
        pending = await service.pool.fetchval("SELECT count(*) FROM outbox WHERE state = 'pending'")
        return {"schools": {r["school_id"]: r["n"] for r in rows}, "outbox_pending": pending}

    service.include_router(router)

    if settings.role == "sink":

        @service.on(SchoolRegistered)
        async def registered(conn, event: SchoolRegistered, envelope) -> None:
            if event.name == "poison":
                raise ValueError("this school cannot be applied")
            await conn.execute("INSERT INTO applied (school_id, applied_at) VALUES ($1, $2)", event.school_id,
                               datetime.now(UTC))

    return service


if __name__ == "__main__":
    run(build)
