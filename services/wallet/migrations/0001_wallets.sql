-- The wallet's copy of each campaign, kept from CampaignPublished: a later change of the validity
-- end, the label or the ticket bounds reaches the campaign's wallets (never the allowance of a
-- granted pass, which could then fall below what the family already credited).
CREATE TABLE campaigns (
    campaign_id      text        PRIMARY KEY,
    label            text        NOT NULL,
    pass_valid_until date        NOT NULL,
    ticket_min_cents integer     NOT NULL,
    ticket_max_cents integer     NOT NULL,
    updated_at       timestamptz NOT NULL DEFAULT now()
);

-- One wallet per granted application: the unique application_id is what makes a redelivered
-- or duplicated PassGranted create nothing twice.
CREATE TABLE wallets (
    wallet_id          uuid        PRIMARY KEY,
    application_id     text        NOT NULL UNIQUE,
    campaign_id        text        NOT NULL,
    campaign_label     text        NOT NULL,
    school_id          text        NOT NULL,
    owner_sub          text,
    guardian_email     text        NOT NULL,
    student_last_name  text        NOT NULL,
    student_first_name text        NOT NULL,
    student_level      text,
    allowance_cents    integer     NOT NULL CHECK (allowance_cents >= 0),
    tickets_per_pass   integer     NOT NULL CHECK (tickets_per_pass >= 1),
    ticket_min_cents   integer     NOT NULL,
    ticket_max_cents   integer     NOT NULL,
    valid_until        date        NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now()
);
-- CampaignPublished updates every wallet of a campaign; the figures filter by campaign.
CREATE INDEX wallets_campaign ON wallets (campaign_id);

CREATE TABLE tickets (
    ticket_id           uuid        PRIMARY KEY,
    wallet_id           uuid        NOT NULL REFERENCES wallets (wallet_id),
    position            smallint    NOT NULL CHECK (position >= 1),
    status              text        NOT NULL DEFAULT 'blank'
                        CHECK (status IN ('blank', 'credited', 'redeemed', 'void_pending', 'voided')),
    amount_cents        integer     CHECK (amount_cents > 0),
    code                text        UNIQUE,
    affiliate_id        text,
    credited_at         timestamptz,
    redeemed_at         timestamptz,
    void_refusal_reason text,
    updated_at          timestamptz NOT NULL DEFAULT now(),
    UNIQUE (wallet_id, position),
    CHECK ((status = 'blank') = (code IS NULL)),
    CHECK ((status = 'blank') = (amount_cents IS NULL))
);

-- The wallet's copy of affiliates, from the affiliation service's events: to check an assignment
-- and to print the affiliate's name on the sheet.
CREATE TABLE affiliates (
    affiliate_id text        PRIMARY KEY,
    name         text        NOT NULL,
    active       boolean     NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now()
);
