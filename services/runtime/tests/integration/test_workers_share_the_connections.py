"""A service run with several worker processes spreads its connections over them: each worker listens with
a socket of its own (carnet_runtime/workers.py), where one socket shared by uvicorn's workers left most
connections to one worker. Shown on a real service process and its workers, read from /proc (Linux)."""

from __future__ import annotations

import asyncio
import os
import pickle
import socket
from pathlib import Path

import pytest

from carnet_runtime.workers import ReusePortListener

pytestmark = pytest.mark.integration

CONNECTIONS = 32


def descendants(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            found += [int(child), *descendants(int(child))]
    return found


def inodes(port: int, state: str) -> set[str]:
    """The inodes of the TCP sockets on local port `port` in `state` ("01" established, "0A" listening)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == state:
                found.add(fields[9])
    return found


def connections_by_process(pids: list[int], port: int) -> dict[int, int]:
    established = inodes(port, "01")
    counts = {}
    for pid in pids:
        held = set()
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            target = os.readlink(fd) if fd.is_symlink() else ""
            if target.startswith("socket:["):
                held.add(target[len("socket:["):-1])
        counts[pid] = len(held & established)
    return counts


def test_a_listener_sent_to_a_worker_becomes_its_own_socket_on_the_address():
    first, second = (pickle.loads(pickle.dumps(ReusePortListener("127.0.0.1", 0))) for _ in range(2))
    try:
        port = first.getsockname()[1]
        assert first.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 1
        second.close()
        second = pickle.loads(pickle.dumps(ReusePortListener("127.0.0.1", port)))  # a second worker, same port
        assert second.getsockname()[1] == port and second.fileno() != first.fileno()
    finally:
        first.close()
        second.close()


async def test_two_workers_each_serve_a_share_of_the_connections(stack):
    process = stack.service("redemption", env={"CARNET_REDEMPTION_HTTP_WORKERS": "2"})
    await asyncio.to_thread(process.start, timeout=120)
    try:
        # ready once one worker serves; the other listens once its own start-up is done
        for _ in range(600):
            if len(inodes(process.port, "0A")) == 2:
                break
            await asyncio.sleep(0.1)
        assert len(inodes(process.port, "0A")) == 2, "each worker listens with a socket of its own"
        streams = [await asyncio.open_connection("127.0.0.1", process.port) for _ in range(CONNECTIONS)]
        for reader, writer in streams:  # each connection answered, so accepted by a worker
            writer.write(b"GET /health/live HTTP/1.1\r\nHost: carnet\r\n\r\n")
            await writer.drain()
            assert (await reader.readline()).startswith(b"HTTP/1.1 200")
        counts = connections_by_process(descendants(process.process.pid), process.port)
        served = sorted((n for n in counts.values() if n), reverse=True)
        assert sum(served) == CONNECTIONS, counts
        # by the connections' addresses: all 32 on one of two workers would have odds of 2 in 2^32
        assert len(served) == 2, counts
        for _, writer in streams:
            writer.close()
    finally:
        await asyncio.to_thread(process.stop)
