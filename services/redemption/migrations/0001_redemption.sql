-- The redeemable-ticket view, fed by the wallet's events. Looked up by the keyed hash of the
-- code (the code itself is never stored). A ticket is spent by one conditional UPDATE on
-- this row; fillfactor leaves room so that update stays HOT (no index column changes).
CREATE TABLE tickets (
    ticket_id     text        PRIMARY KEY,
    code_hash     text        NOT NULL,
    code_suffix   text        NOT NULL,
    wallet_id     text        NOT NULL,
    campaign_id   text        NOT NULL,
    amount_cents  integer     NOT NULL CHECK (amount_cents > 0),
    valid_until   date        NOT NULL,
    -- The first instant the ticket is no longer valid (end of its last Europe/Paris day),
    -- so that the guard compares one column with the request's time.
    valid_through timestamptz NOT NULL,
    reserved_for  text,
    status        text        NOT NULL DEFAULT 'redeemable' CHECK (status IN ('redeemable', 'redeemed', 'voided')),
    redemption_id uuid,
    redeemed_at   timestamptz,
    redeemed_by   text,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CHECK ((status = 'redeemed') = (redemption_id IS NOT NULL))
) WITH (fillfactor = 80);
-- The scanner's lookup.
CREATE UNIQUE INDEX tickets_by_code_hash ON tickets (code_hash);

CREATE TABLE redemptions (
    redemption_id uuid        PRIMARY KEY,
    ticket_id     text        NOT NULL REFERENCES tickets (ticket_id),
    wallet_id     text        NOT NULL,
    campaign_id   text        NOT NULL,
    affiliate_id  text        NOT NULL,
    amount_cents  integer     NOT NULL CHECK (amount_cents > 0),
    redeemed_at   timestamptz NOT NULL,
    status        text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'cancelled')),
    cancelled_at  timestamptz,
    batch_id      text
);
-- A second guard under the conditional update: the database itself refuses a second live
-- redemption of one ticket.
CREATE UNIQUE INDEX redemptions_one_active_per_ticket ON redemptions (ticket_id) WHERE status = 'active';
-- GET /v1/redemptions?from=&to= : an affiliate's own list by time.
CREATE INDEX redemptions_by_affiliate ON redemptions (affiliate_id, redeemed_at);

-- Idempotency-Key: per affiliate, the request's fingerprint (the code's keyed hash) and the
-- first answer, written in the same statement as the redemption it answers.
CREATE TABLE idempotency_keys (
    affiliate_id    text        NOT NULL,
    idempotency_key text        NOT NULL,
    fingerprint     text        NOT NULL,
    status_code     smallint    NOT NULL,
    answer          json        NOT NULL,  -- json, not jsonb: a replay is byte for byte the first answer
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (affiliate_id, idempotency_key)
);
-- Housekeeping deletes old keys.
CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);

-- Who may redeem, fed by the affiliation service; and each one's unknown-code pace
-- (the guessing limiter's theoretical arrival time, see domain.GuessingLimit).
CREATE TABLE affiliates (
    affiliate_id      text        PRIMARY KEY,
    active            boolean     NOT NULL,
    unknown_codes_tat timestamptz,
    updated_at        timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE campaigns (
    campaign_id                     text    PRIMARY KEY,
    pass_valid_until                date    NOT NULL,
    redemption_cancel_grace_minutes integer NOT NULL CHECK (redemption_cancel_grace_minutes >= 0)
);
