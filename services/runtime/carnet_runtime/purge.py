"""The runtime's part of a campaign's purge (DESIGN.md, Trust and privacy), the same in every service.

When enrolment announces CampaignPurgeStarted, each service, in the one consumer transaction:
- runs its own hooks (`@service.on_campaign_purge`): erase or anonymise that campaign's personal
  data in its tables, keeping what its figures need as non-personal values;
- forgets its outbox rows of that campaign (their envelopes carry names and addresses);
- records that its Kafka records older than the purge may go.

Then, off the transaction, a periodic task deletes from the topics this service writes (the topics
it owns, and the dead-letter topics of those it consumes) every record older than `purge_before`
that every consumer group has already committed past: the season's events and dead-letter copies
leave Kafka too, and nothing still unread by some group is lost.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, RecordsToDelete

from carnet_contracts.events import CampaignPurgeStarted

from .settings import ServiceSettings

log = logging.getLogger(__name__)

PurgeHook = Callable[[asyncpg.Connection, CampaignPurgeStarted], Awaitable[None]]


async def forget_campaign(conn: asyncpg.Connection, event: CampaignPurgeStarted) -> int:
    """The runtime's tables: sent outbox rows of the campaign go; Kafka's turn is recorded."""
    deleted = await conn.execute(
        "DELETE FROM outbox WHERE state = 'sent' AND envelope->>'campaign_id' = $1", event.campaign_id
    )
    await conn.execute(
        """
        INSERT INTO kafka_purges (purge_id, campaign_id, purge_before) VALUES ($1, $2, $3)
        ON CONFLICT (purge_id) DO NOTHING
        """,
        event.purge_id, event.campaign_id, event.purge_before,
    )
    return int(deleted.split()[-1])


async def forget_outbox_rows(conn: asyncpg.Connection, message_keys: Iterable[str]) -> None:
    """An erasure: the sent outbox rows about these aggregates (application, wallet, ticket ids) go."""
    await conn.execute("DELETE FROM outbox WHERE state = 'sent' AND message_key = ANY($1::text[])",
                       list(message_keys))


def kafka_client_kwargs(settings: ServiceSettings) -> dict:
    kwargs: dict = {"bootstrap_servers": settings.kafka_bootstrap_servers}
    context = ssl.create_default_context(cafile=str(settings.kafka_ssl_cafile)) if settings.kafka_ssl_cafile else None
    if settings.kafka_sasl_username:
        kwargs.update(security_protocol="SASL_SSL" if context else "SASL_PLAINTEXT", sasl_mechanism="SCRAM-SHA-512",
                      sasl_plain_username=settings.kafka_sasl_username,
                      sasl_plain_password=settings.kafka_sasl_password or "", ssl_context=context)
    elif context is not None:
        kwargs.update(security_protocol="SSL", ssl_context=context)
    return kwargs


async def truncate_topics(settings: ServiceSettings, topics: list[str], before: datetime) -> dict[str, int]:
    """Delete, on each partition of `topics`, the records older than `before` that every consumer
    group with an offset there has committed past. Returns how many records went, per topic."""
    kwargs = kafka_client_kwargs(settings)
    admin = AIOKafkaAdminClient(**kwargs)
    consumer = AIOKafkaConsumer(**kwargs, enable_auto_commit=False)
    await admin.start()
    await consumer.start()
    try:
        existing = set(await admin.list_topics())
        described = await admin.describe_topics([t for t in topics if t in existing]) if existing & set(topics) else []
        partitions = [TopicPartition(d["topic"], p["partition"]) for d in described if not d["error_code"]
                      for p in d["partitions"]]
        if not partitions:
            return {}
        at_cutoff = await consumer.offsets_for_times({tp: int(before.timestamp() * 1000) for tp in partitions})
        ends = await consumer.end_offsets(partitions)
        starts = await consumer.beginning_offsets(partitions)
        safe = {tp: (at_cutoff[tp].offset if at_cutoff.get(tp) else ends[tp]) for tp in partitions}
        for group, *_ in await admin.list_consumer_groups():
            committed = await admin.list_consumer_group_offsets(group, partitions=partitions)
            for tp, meta in committed.items():
                if tp in safe and meta.offset >= 0:
                    safe[tp] = min(safe[tp], meta.offset)
        to_delete = {tp: RecordsToDelete(offset) for tp, offset in safe.items() if offset > starts[tp]}
        if to_delete:
            await admin.delete_records(to_delete)
        removed: dict[str, int] = {}
        for tp, records in to_delete.items():
            removed[tp.topic] = removed.get(tp.topic, 0) + records.before_offset - starts[tp]
        return removed
    finally:
        await consumer.stop()
        await admin.close()


async def truncate_pending(pool: asyncpg.Pool, settings: ServiceSettings, topics: list[str]) -> int:
    """Carry out the recorded purges of Kafka, oldest first; a failure is retried at the next tick."""
    rows = await pool.fetch(
        "SELECT purge_id, campaign_id, purge_before FROM kafka_purges WHERE done_at IS NULL ORDER BY requested_at"
    )
    for row in rows:
        removed = await truncate_topics(settings, topics, row["purge_before"])
        await pool.execute("UPDATE kafka_purges SET done_at = now(), records_removed = $2 WHERE purge_id = $1",
                           row["purge_id"], sum(removed.values()))
        log.info("kafka records of a purged season removed",
                 extra={"campaign_id": row["campaign_id"], "records": sum(removed.values())})
    return len(rows)
