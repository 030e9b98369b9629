"""A request written to a Kafka connection the broker has just closed, on uvloop (the services' loop):
aiokafka's tasks must see the broken connection they retry, not a RuntimeError that ends them."""

from __future__ import annotations

import asyncio

import pytest
import uvloop
from aiokafka.conn import AIOKafkaConnection, create_conn
from aiokafka.errors import KafkaConnectionError
from aiokafka.protocol.metadata import MetadataRequest

from carnet_runtime import aiokafka_on_uvloop

pytestmark = pytest.mark.integration


async def connection_the_broker_closed(bootstrap: str) -> AIOKafkaConnection:
    """A connection to the real broker whose transport is closed, as after the broker dropped it, in the
    moment before aiokafka's reader task notices (uvloop closes the handle one loop iteration after
    close(); aiokafka learns of it two iterations later)."""
    host, port = bootstrap.split(",")[0].rsplit(":", 1)
    conn = await create_conn(host, int(port))
    conn._writer.transport.close()
    await asyncio.sleep(0)
    assert conn._writer is not None, "aiokafka noticed the closed connection already: no moment to write in"
    return conn


def test_a_request_on_a_connection_the_broker_closed_fails_as_a_broken_connection_not_a_runtime_error(stack):
    aiokafka_on_uvloop.install()
    aiokafka_on_uvloop.install()  # idempotent: the write is guarded once

    async def scenario() -> None:
        unguarded = getattr(AIOKafkaConnection.send, "__wrapped__", AIOKafkaConnection.send)
        assert not hasattr(unguarded, "__wrapped__")

        # what aiokafka does alone on uvloop: the RuntimeError that ended the wallet's group coordination
        conn = await connection_the_broker_closed(stack.kafka_bootstrap)
        with pytest.raises(RuntimeError, match="handler is closed"):
            unguarded(conn, MetadataRequest([]))
        conn.close()

        conn = await connection_the_broker_closed(stack.kafka_bootstrap)
        with pytest.raises(KafkaConnectionError, match="broken"):
            conn.send(MetadataRequest([]))
        assert not conn.connected()  # closed, so that the client opens a new one

        host, port = stack.kafka_bootstrap.split(",")[0].rsplit(":", 1)
        conn = await create_conn(host, int(port))
        try:
            metadata = await conn.send(MetadataRequest([]))  # a live connection is untouched
            assert metadata.brokers
        finally:
            conn.close()

    uvloop.run(scenario())
