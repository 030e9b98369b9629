-- The transactional outbox: written in the same transaction as the state change it reports,
-- published by the relay in id order, marked sent only once the broker confirmed.
CREATE TABLE outbox (
    id          bigserial   PRIMARY KEY,
    event_id    uuid        NOT NULL UNIQUE,
    topic       text        NOT NULL,
    message_key text        NOT NULL,
    event_type  text        NOT NULL,
    envelope    jsonb       NOT NULL,
    headers     jsonb       NOT NULL DEFAULT '{}'::jsonb,
    created_at  timestamptz NOT NULL DEFAULT now(),
    state       text        NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent')),
    attempts    integer     NOT NULL DEFAULT 0,
    last_error  text,
    sent_at     timestamptz
);
-- The relay's only query: the oldest pending rows.
CREATE INDEX outbox_pending ON outbox (id) WHERE state = 'pending';
-- Housekeeping deletes old sent rows.
CREATE INDEX outbox_sent_at ON outbox (sent_at) WHERE state = 'sent';

-- The idempotent consumer: an event id recorded in the same transaction as the handler's writes.
CREATE TABLE inbox (
    consumer    text        NOT NULL,
    event_id    uuid        NOT NULL,
    event_type  text        NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
