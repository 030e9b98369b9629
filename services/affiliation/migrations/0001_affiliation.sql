-- Affiliated organisations, their account and their progress through the convention.
CREATE TABLE affiliates (
    affiliate_id        text        PRIMARY KEY,
    name                text        NOT NULL,
    siret               text        NOT NULL UNIQUE,
    activity            text        NOT NULL,
    address_line        text        NOT NULL,
    postcode            text        NOT NULL,
    city                text        NOT NULL,
    contact_email       text        NOT NULL,
    iban                text        NOT NULL,
    bic                 text,
    status              text        NOT NULL DEFAULT 'invited'
                        CHECK (status IN ('invited', 'convention_pending', 'active', 'suspended')),
    login               text        NOT NULL UNIQUE,
    password_hash       text,
    failed_logins       integer     NOT NULL DEFAULT 0,
    locked_until        timestamptz,
    convention_step     text        NOT NULL DEFAULT 'not_started',
    convention_version  text,
    convention_sha256   text,
    otp_hash            text,
    otp_expires_at      timestamptz,
    otp_failed_attempts integer     NOT NULL DEFAULT 0,
    created_at          timestamptz NOT NULL DEFAULT now(),
    account_activated_at timestamptz,
    signed_at           timestamptz,
    updated_at          timestamptz NOT NULL DEFAULT now()
);
-- The directory families choose from: active organisations by city and activity.
CREATE INDEX affiliates_directory ON affiliates (lower(city), activity) WHERE status = 'active';
-- The start-of-campaign reminder goes to every active organisation.
CREATE INDEX affiliates_status ON affiliates (status);

-- One-time tokens (activation, password reset): only their SHA-256 is kept.
CREATE TABLE account_tokens (
    token_hash   text        PRIMARY KEY,
    affiliate_id text        NOT NULL REFERENCES affiliates (affiliate_id),
    purpose      text        NOT NULL CHECK (purpose IN ('activation', 'password_reset')),
    expires_at   timestamptz NOT NULL,
    used_at      timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now()
);
-- A new token of a purpose retires the older ones of the same account.
CREATE INDEX account_tokens_by_affiliate ON account_tokens (affiliate_id, purpose) WHERE used_at IS NULL;

-- The audit trail of the convention's steps and of suspensions: append-only.
CREATE TABLE audit_trail (
    id               bigserial   PRIMARY KEY,
    affiliate_id     text        NOT NULL REFERENCES affiliates (affiliate_id),
    action           text        NOT NULL,
    account          text        NOT NULL,
    client_address   text,
    at               timestamptz NOT NULL,
    document_version text,
    document_sha256  text
);
CREATE INDEX audit_trail_by_affiliate ON audit_trail (affiliate_id, id);

-- This service's copy of each campaign, from CampaignPublished.
CREATE TABLE campaigns (
    campaign_id                     text        PRIMARY KEY,
    label                           text        NOT NULL,
    enrolment_opens                 date        NOT NULL,
    pass_valid_until                date        NOT NULL,
    reimbursement_deadline          date        NOT NULL,
    redemption_cancel_grace_minutes integer     NOT NULL,
    logins_reminded_at              timestamptz,
    updated_at                      timestamptz NOT NULL DEFAULT now()
);

-- Tickets families assigned to an organisation (from the wallet's events).
CREATE TABLE assigned_tickets (
    ticket_id    text        PRIMARY KEY,
    affiliate_id text        NOT NULL,
    wallet_id    text        NOT NULL,
    campaign_id  text        NOT NULL,
    code_suffix  text        NOT NULL,
    amount_cents integer     NOT NULL,
    valid_until  date,
    assigned_at  timestamptz NOT NULL
);
CREATE INDEX assigned_tickets_by_affiliate ON assigned_tickets (affiliate_id, assigned_at);

-- Every redeemed ticket, as the organisation's statement shows it (from the redemption's events).
CREATE TABLE statement_lines (
    redemption_id text        PRIMARY KEY,
    affiliate_id  text        NOT NULL,
    campaign_id   text        NOT NULL,
    ticket_id     text        NOT NULL,
    wallet_id     text        NOT NULL,
    amount_cents  integer     NOT NULL CHECK (amount_cents > 0),
    redeemed_at   timestamptz NOT NULL,
    status        text        NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'batched', 'paid', 'cancelled')),
    batch_id      text,
    cancelled_at  timestamptz
);
CREATE INDEX statement_lines_by_affiliate ON statement_lines (affiliate_id, campaign_id, redeemed_at);
-- A batch reads the pending lines of one campaign.
CREATE INDEX statement_lines_pending ON statement_lines (campaign_id) WHERE status = 'pending';
CREATE INDEX statement_lines_by_ticket ON statement_lines (ticket_id);

CREATE TABLE reimbursement_batches (
    batch_id       text        PRIMARY KEY,
    campaign_id    text        NOT NULL REFERENCES campaigns (campaign_id),
    status         text        NOT NULL CHECK (status IN ('created', 'paid')),
    total_cents    bigint      NOT NULL,
    count          integer     NOT NULL,
    execution_date date        NOT NULL,
    sepa_xml       bytea       NOT NULL,
    transfers_csv  text        NOT NULL,
    created_by     text        NOT NULL,
    created_at     timestamptz NOT NULL,
    paid_at        timestamptz
);

CREATE TABLE batch_transfers (
    batch_id      text    NOT NULL REFERENCES reimbursement_batches (batch_id),
    affiliate_id  text    NOT NULL REFERENCES affiliates (affiliate_id),
    name          text    NOT NULL,
    iban          text    NOT NULL,
    amount_cents  bigint  NOT NULL,
    count         integer NOT NULL,
    end_to_end_id text    NOT NULL,
    PRIMARY KEY (batch_id, affiliate_id)
);

-- Who was reminded of their login for which campaign: each organisation once per campaign.
CREATE TABLE login_reminders (
    campaign_id  text        NOT NULL,
    affiliate_id text        NOT NULL REFERENCES affiliates (affiliate_id),
    reminded_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (campaign_id, affiliate_id)
);
