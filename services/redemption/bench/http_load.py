"""The benchmark's HTTP load: a light keep-alive client, closed loops at a concurrency, an open loop at a
fixed rate, and the figures (throughput, p50, p99, answers) each prints."""

from __future__ import annotations

import asyncio
import gc
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


class Figures:
    def __init__(self, latencies: list[float], elapsed: float, statuses: dict[int, int]):
        self.latencies = sorted(latencies)
        self.elapsed = elapsed
        self.statuses = statuses

    @classmethod
    def combined(cls, parts: list[Figures]) -> Figures:
        """Several runs as one: every latency, the summed time, the summed answers."""
        statuses: dict[int, int] = {}
        for part in parts:
            for status, count in part.statuses.items():
                statuses[status] = statuses.get(status, 0) + count
        return cls([x for part in parts for x in part.latencies], sum(part.elapsed for part in parts), statuses)

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0

    def line(self, label: str) -> str:
        return (
            f"{label:<34} {self.throughput:8.0f} /s   p50 {percentile(self.latencies, 0.50) * 1000:7.2f} ms"
            f"   p99 {percentile(self.latencies, 0.99) * 1000:7.2f} ms   answers {dict(sorted(self.statuses.items()))}"
        )


class HttpConnection:
    """A minimal HTTP/1.1 keep-alive client: the load generator shares the cores, so it must be light."""

    def __init__(self, host: str, port: int, token: str):
        self.host, self.port, self.token = host, port, token
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> HttpConnection:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        return self

    async def request(self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None):
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}", f"Authorization: Bearer {self.token}",
                 f"Content-Length: {len(body)}"]
        if body:
            lines.append("Content-Type: application/json")
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        status_line = await self.reader.readline()
        if not status_line:  # the server closed an idle keep-alive connection: open another, send again
            self.close()
            await self.open()
            self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
            status_line = await self.reader.readline()
        status = int(status_line.split()[1])
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        return status, await self.reader.readexactly(length)

    async def redeem(self, code: str) -> tuple[int, bytes]:
        body = json.dumps({"ticket_code": code}).encode()
        return await self.request("POST", "/v1/redemptions", body, {"Idempotency-Key": str(uuid.uuid4())})

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def full_path(ports: list[int], token: str, codes: list[str], concurrency: int) -> Figures:
    queue = list(reversed(codes))
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    connections = [await HttpConnection("127.0.0.1", ports[i % len(ports)], token).open() for i in range(concurrency)]

    async def worker(conn: HttpConnection) -> None:
        while queue:
            code = queue.pop()
            started = time.perf_counter()
            status, _ = await conn.redeem(code)
            latencies.append(time.perf_counter() - started)
            statuses[status] = statuses.get(status, 0) + 1

    started = time.perf_counter()
    await asyncio.gather(*(worker(c) for c in connections))
    elapsed = time.perf_counter() - started
    for c in connections:
        c.close()
    return Figures(latencies, elapsed, statuses)


async def liveness(port: int, token: str, count: int, concurrency: int) -> Figures:
    """The floor: what the HTTP stack (uvicorn, FastAPI, the runtime's middlewares) costs without any work."""
    latencies: list[float] = []
    remaining = [count]
    connections = [await HttpConnection("127.0.0.1", port, token).open() for _ in range(concurrency)]

    async def worker(conn: HttpConnection) -> None:
        while remaining[0] > 0:
            remaining[0] -= 1
            started = time.perf_counter()
            await conn.request("GET", "/health/live")
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker(c) for c in connections))
    elapsed = time.perf_counter() - started
    for c in connections:
        c.close()
    return Figures(latencies, elapsed, {200: len(latencies)})


async def fixed_rate(ports: list[int], token: str, codes: list[str], rate: float, connections: int = 64) -> Figures:
    """Open loop over HTTP: keep-alive connections taken from an idle queue, one redemption each."""
    idle: asyncio.Queue[HttpConnection] = asyncio.Queue()
    for i in range(connections):
        idle.put_nowait(await HttpConnection("127.0.0.1", ports[i % len(ports)], token).open())

    async def redeem(code: str) -> int:
        conn = await idle.get()
        try:
            status, _ = await conn.redeem(code)
        finally:
            idle.put_nowait(conn)
        return status

    try:
        return await paced(codes, rate, redeem)
    finally:
        while not idle.empty():
            idle.get_nowait().close()


async def paced(items: list[T], rate: float, call: Callable[[T], Awaitable[int]]) -> Figures:
    """Open loop: `call(item)` (its answer's status) starts on schedule, `rate` a second, whatever the answers;
    latency counts from the scheduled start. The load generator's own objects are kept out of its cyclic
    collector meanwhile (gc.freeze): a full collection of this process would start calls late and count its
    pause as the service's latency."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    gc.collect()
    gc.freeze()
    start = time.perf_counter()

    async def one(item: T, due: float) -> None:
        status = await call(item)
        latencies.append(time.perf_counter() - due)
        statuses[status] = statuses.get(status, 0) + 1

    tasks = []
    try:
        for i, item in enumerate(items):
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(item, due)))
        await asyncio.gather(*tasks)
    finally:
        gc.unfreeze()
    return Figures(latencies, time.perf_counter() - start, statuses)
