"""aiokafka on uvloop: a request written to a connection the broker has just closed.

The services run on uvloop (uvicorn's default when it is installed). Between the moment a broker drops a
connection and the moment aiokafka's reader task notices it, a request can still be written to it: asyncio's
own transports drop the bytes (the request then fails with the connection), uvloop's raise RuntimeError
("unable to perform operation on <TCPTransport closed=True ...>; the handler is closed"). aiokafka only
expects OSError there (aio-libs/aiokafka#1038, open), so the RuntimeError ends the task that wrote: a
consumer's group coordination (the consumer then never gets partitions again and its subscriber logs
"Kafka error occurred" every 5 s), its fetcher, or a producer's sender. It happened when a broker was killed
under load: the wallet's consumers stopped for good while two brokers of three still served.

`install()` makes that write fail the way aiokafka handles: the connection is closed and the caller gets a
KafkaConnectionError, which every one of those tasks retries (another node, or the same once it is back).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from aiokafka.conn import AIOKafkaConnection, CloseReason
from aiokafka.errors import KafkaConnectionError

_INSTALLED = "_carnet_closed_transport_is_a_broken_connection"


def _writes_to_a_closed_transport_break_the_connection(write: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(write)
    def guarded(self: AIOKafkaConnection, *args: Any, **kwargs: Any) -> Any:
        try:
            return write(self, *args, **kwargs)
        except RuntimeError as exc:
            writer = self._writer
            if writer is None or not writer.transport.is_closing():
                raise  # not the closed transport: nothing of ours to translate
            self.close(reason=CloseReason.CONNECTION_BROKEN, exc=exc)
            raise KafkaConnectionError(f"Connection at {self.host}:{self.port} broken: {exc}") from exc

    setattr(guarded, _INSTALLED, True)
    return guarded


def install() -> None:
    """Guard aiokafka's two socket writes (a request, a SASL token); once per process, idempotent."""
    for name in ("send", "_send_sasl_token"):
        write = getattr(AIOKafkaConnection, name)
        if not getattr(write, _INSTALLED, False):
            setattr(AIOKafkaConnection, name, _writes_to_a_closed_transport_break_the_connection(write))
