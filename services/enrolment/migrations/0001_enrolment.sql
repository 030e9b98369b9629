-- Campaigns: every date and amount of a campaign is a setting, kept here.
CREATE TABLE campaigns (
    campaign_id                     text        PRIMARY KEY,
    label                           text        NOT NULL,
    enrolment_opens                 date        NOT NULL,
    enrolment_closes                date        NOT NULL,
    pass_valid_until                date        NOT NULL,
    reimbursement_deadline          date        NOT NULL,
    allowance_cents                 integer     NOT NULL,
    tickets_per_pass                integer     NOT NULL,
    ticket_min_cents                integer     NOT NULL,
    ticket_max_cents                integer     NOT NULL,
    eligible_postcode_prefixes      text[]      NOT NULL,
    eligible_levels                 text[]      NOT NULL,
    redemption_cancel_grace_minutes integer     NOT NULL,
    created_at                      timestamptz NOT NULL DEFAULT now(),
    updated_at                      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE schools (
    school_id           text        PRIMARY KEY,
    name                text        NOT NULL,
    postcode            text        NOT NULL,
    city                text        NOT NULL,
    correspondent_email text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE applications (
    application_id      text        PRIMARY KEY,
    campaign_id         text        NOT NULL REFERENCES campaigns,
    school_id           text        NOT NULL REFERENCES schools,
    family_sub          text,
    channel             text        NOT NULL CHECK (channel IN ('online', 'paper')),
    entered_by          text,
    student_last_name   text        NOT NULL,
    student_first_name  text        NOT NULL,
    student_birth_date  date        NOT NULL,
    student_level       text        NOT NULL,
    -- folded names and birth date (domain StudentKey): one pass per student per campaign
    student_key         text        NOT NULL,
    guardian_last_name  text        NOT NULL,
    guardian_first_name text        NOT NULL,
    guardian_email      text        NOT NULL,
    guardian_phone      text,
    address_line        text        NOT NULL,
    address_postcode    text        NOT NULL,
    address_city        text        NOT NULL,
    status              text        NOT NULL CHECK (status IN ('submitted', 'validated', 'rejected', 'wallet_ready')),
    rejection_reason    text,
    wallet_id           text,
    submitted_at        timestamptz NOT NULL,
    validated_at        timestamptz,
    decided_by          text
);
-- The duplicate rule, race-proof: a rejected application does not stop the family from applying again.
CREATE UNIQUE INDEX applications_one_per_student ON applications (campaign_id, student_key) WHERE status <> 'rejected';
-- The school's pending list, its roster matching and the figures by school.
CREATE INDEX applications_by_school ON applications (school_id, status, submitted_at);
-- A family's own applications.
CREATE INDEX applications_by_family ON applications (family_sub, submitted_at) WHERE family_sub IS NOT NULL;

CREATE TABLE application_history (
    application_id text        NOT NULL REFERENCES applications,
    position       integer     NOT NULL,
    status         text        NOT NULL,
    at             timestamptz NOT NULL,
    PRIMARY KEY (application_id, position)
);

-- The school's latest roster: each import replaces the previous one.
CREATE TABLE roster_entries (
    school_id   text        NOT NULL REFERENCES schools,
    student_key text        NOT NULL,
    last_name   text        NOT NULL,
    first_name  text        NOT NULL,
    birth_date  date        NOT NULL,
    level       text        NOT NULL,
    line        integer     NOT NULL,
    imported_at timestamptz NOT NULL,
    PRIMARY KEY (school_id, student_key)
);

CREATE TABLE roster_imports (
    import_id     bigserial   PRIMARY KEY,
    school_id     text        NOT NULL REFERENCES schools,
    imported_by   text        NOT NULL,
    imported_at   timestamptz NOT NULL,
    encoding      text        NOT NULL,
    imported      integer     NOT NULL,
    rejected      integer     NOT NULL,
    matched       integer     NOT NULL
);
