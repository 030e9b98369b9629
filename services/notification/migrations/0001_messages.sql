-- Every message the service sends, once per (event, template) however often the event arrives.
CREATE TABLE messages (
    message_id        uuid        PRIMARY KEY,
    event_id          uuid        NOT NULL,  -- the source event, or a key derived per recipient for fan-out
    source_event_id   uuid,                  -- the envelope that caused it, or the broadcast
    template          text        NOT NULL,
    campaign_id       text,
    recipient         text,                  -- erased with subject and bodies at forget_at
    subject           text,
    body_text         text,
    body_html         text,
    -- what to attach at send time, fetched then (a ticket sheet is never stored here)
    attachment        jsonb,
    state             text        NOT NULL DEFAULT 'pending'
                      CHECK (state IN ('pending', 'sending', 'sent', 'failed')),
    attempts          integer     NOT NULL DEFAULT 0,
    next_attempt_at   timestamptz NOT NULL DEFAULT now(),
    lease_until       timestamptz,           -- a 'sending' message whose worker died is taken again after
    first_attempt_at  timestamptz,
    last_attempt_at   timestamptz,
    sent_at           timestamptz,
    failed_at         timestamptz,
    last_error        text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    forget_at         timestamptz NOT NULL,
    forgotten_at      timestamptz,
    UNIQUE (event_id, template)
);
-- the worker's claim: due pending messages, and abandoned sending ones
CREATE INDEX messages_due ON messages (next_attempt_at) WHERE state = 'pending';
CREATE INDEX messages_abandoned ON messages (lease_until) WHERE state = 'sending';
-- GET /v1/messages?recipient=
CREATE INDEX messages_by_recipient ON messages (recipient, created_at DESC);
CREATE INDEX messages_to_forget ON messages (forget_at) WHERE forgotten_at IS NULL;
CREATE INDEX messages_by_campaign ON messages (campaign_id) WHERE forgotten_at IS NULL;
-- a broadcast's messages, counted by state
CREATE INDEX messages_by_source ON messages (source_event_id);

-- One row per attempt: what happened, when.
CREATE TABLE delivery_log (
    message_id  uuid        NOT NULL REFERENCES messages (message_id) ON DELETE CASCADE,
    attempt     integer     NOT NULL,
    at          timestamptz NOT NULL DEFAULT now(),
    outcome     text        NOT NULL CHECK (outcome IN ('sent', 'retry', 'failed')),
    detail      text,
    PRIMARY KEY (message_id, attempt)
);

CREATE TABLE broadcasts (
    broadcast_id     uuid        PRIMARY KEY,
    audience         text        NOT NULL CHECK (audience IN ('correspondents', 'families', 'affiliates')),
    subject          text,
    body             text,
    send_at          timestamptz NOT NULL,
    state            text        NOT NULL DEFAULT 'scheduled' CHECK (state IN ('scheduled', 'expanded')),
    recipient_count  integer,
    requested_by     text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    expanded_at      timestamptz
);
CREATE INDEX broadcasts_due ON broadcasts (send_at) WHERE state = 'scheduled';

-- What the service learned from events to address people, and only that.
CREATE TABLE campaigns (
    campaign_id            text PRIMARY KEY,
    label                  text NOT NULL,
    pass_valid_until       date NOT NULL,
    reimbursement_deadline date NOT NULL
);

CREATE TABLE families (
    application_id  text        PRIMARY KEY,
    campaign_id     text        NOT NULL,
    guardian_email  text        NOT NULL,
    forget_at       timestamptz NOT NULL
);
CREATE INDEX families_to_forget ON families (forget_at);

-- PassGranted and WalletCreated come on two topics in any order: the family is told once both are in.
CREATE TABLE wallet_readiness (
    application_id   text        PRIMARY KEY,
    campaign_id      text,
    granted          jsonb,                 -- the message's content from PassGranted
    recipient        text,
    wallet_event_id  uuid,                  -- the WalletCreated event: it keys the message
    granted_event_id uuid,
    forget_at        timestamptz NOT NULL
);
CREATE INDEX wallet_readiness_to_forget ON wallet_readiness (forget_at);

CREATE TABLE correspondents (
    school_id  text PRIMARY KEY,
    email      text NOT NULL
);

CREATE TABLE affiliates (
    affiliate_id  text PRIMARY KEY,
    name          text,
    contact_email text NOT NULL,
    suspended     boolean NOT NULL DEFAULT false
);
