-- A wallet from a paper application (no family account) is kept by its school's correspondent,
-- who (like the admin) acts for the family; the flag is set once, at creation, so that erasing
-- the owner's account later never turns a family's wallet into one the school may act on.
ALTER TABLE wallets
    ADD COLUMN paper              boolean     NOT NULL DEFAULT false,
    -- The one reminder before the pass ends while money is left on it (PassExpiryReminderDue).
    ADD COLUMN expiry_reminded_at timestamptz,
    -- Names, e-mail, account and codes were erased (the campaign's purge or the guardian's request);
    -- amounts, statuses and dates stay for the figures.
    ADD COLUMN anonymised_at      timestamptz;
UPDATE wallets SET paper = (owner_sub IS NULL);
-- The privacy export: a family's wallets, or the admin's look-up by the guardian's e-mail.
CREATE INDEX wallets_owner_sub ON wallets (owner_sub) WHERE owner_sub IS NOT NULL;
CREATE INDEX wallets_guardian_email ON wallets (lower(guardian_email));
-- The reminder's periodic look-up.
CREATE INDEX wallets_reminder_due ON wallets (valid_until) WHERE expiry_reminded_at IS NULL AND anonymised_at IS NULL;

-- Every act on someone else's behalf: who (role and account), what, which ticket, when.
CREATE TABLE acts (
    act_id     bigserial   PRIMARY KEY,
    wallet_id  uuid        NOT NULL REFERENCES wallets (wallet_id),
    ticket_id  uuid,
    action     text        NOT NULL CHECK (action IN ('credit', 'assign', 'void', 'replace', 'print', 'email')),
    actor_role text        NOT NULL CHECK (actor_role IN ('correspondent', 'admin')),
    actor_sub  text,       -- NULL once anonymised
    detail     jsonb       NOT NULL DEFAULT '{}'::jsonb,
    acted_at   timestamptz NOT NULL
);
CREATE INDEX acts_wallet ON acts (wallet_id, acted_at);

-- The sheet a ticket e-mail carries, as it was when asked: the notification service fetches it by
-- request id; codes sealed like the tickets' own.
CREATE TABLE sheet_snapshots (
    request_id   uuid        PRIMARY KEY,
    wallet_id    uuid        NOT NULL REFERENCES wallets (wallet_id),
    campaign_id  text        NOT NULL,
    reason       text        NOT NULL CHECK (reason IN ('requested', 'replaced')),
    requested_at timestamptz NOT NULL
);
CREATE INDEX sheet_snapshots_wallet ON sheet_snapshots (wallet_id);
CREATE INDEX sheet_snapshots_campaign ON sheet_snapshots (campaign_id);
CREATE INDEX sheet_snapshots_requested_at ON sheet_snapshots (requested_at);

CREATE TABLE sheet_snapshot_tickets (
    request_id      uuid     NOT NULL REFERENCES sheet_snapshots (request_id) ON DELETE CASCADE,
    position        smallint NOT NULL,
    ticket_id       uuid     NOT NULL,
    amount_cents    integer  NOT NULL,
    affiliate_name  text,
    code_key_id     text     NOT NULL,
    code_ciphertext bytea    NOT NULL,
    PRIMARY KEY (request_id, position)
);
CREATE INDEX sheet_snapshot_tickets_code_key_id ON sheet_snapshot_tickets (code_key_id);
