-- A campaign's purge reaches Kafka too: the records older than the purge, once every consumer group
-- has read them, are deleted from the topics this service writes (carnet_runtime.purge).
CREATE TABLE kafka_purges (
    purge_id        text        PRIMARY KEY,
    campaign_id     text        NOT NULL,
    purge_before    timestamptz NOT NULL,
    requested_at    timestamptz NOT NULL DEFAULT now(),
    done_at         timestamptz,
    records_removed bigint
);
