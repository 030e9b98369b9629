"""A service's worker processes, each listening on the service's port with a socket of its own.

uvicorn's workers share one listening socket bound by the parent: every worker accepts from the same
queue, and the kernel hands most connections to the same one (measured on the redemption service with two
workers: 64 connections split 64/0, 48/16, 47/17), so one core serves the scanners while the other
waits. Here each worker binds its own socket with SO_REUSEPORT (Linux) and the kernel spreads the
connections over the workers by their addresses. uvicorn's supervisor is kept as it is (signals,
restarting a worker that died): it hands each worker process the sockets it is given, pickled, and a
`ReusePortListener` unpickles, in the worker, as a freshly bound socket of that worker's own."""

from __future__ import annotations

import socket

import uvicorn
from uvicorn.supervisors import Multiprocess


def reuse_port_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to host:port that other processes of this user may bind too (SO_REUSEPORT):
    each one gets its share of the connections. uvicorn makes it listen."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


class ReusePortListener:
    """In the parent, where the worker processes' sockets are listed: a listening address. Sent to a
    worker process (pickled), it becomes a socket of that worker's own on that address."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port

    def __reduce__(self):
        return reuse_port_socket, (self.host, self.port)


def serve_in_workers(app: str, workers: int, **served) -> None:
    """`uvicorn.run(app, factory=True, workers=workers, **served)`, each worker on a socket of its own."""
    config = uvicorn.Config(app, factory=True, workers=workers, **served)
    # The port must be free: a socket still bound there, even another run of this service's, refuses
    # this bind (it does not ask for SO_REUSEPORT), where the workers' binds would join it silently.
    with socket.socket(socket.AF_INET6 if ":" in config.host else socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a restart's TIME_WAIT connections are no bar
        probe.bind((config.host, config.port))
    Multiprocess(config, sockets=[ReusePortListener(config.host, config.port)]).run()  # type: ignore[list-item]
