-- Issue 13: a campaign's personal data is purged `data_retention_days` after its reimbursement deadline;
-- a guardian's data can be erased on request. Issue 14: the weekly digest of the files waiting for a school.

ALTER TABLE campaigns ADD COLUMN data_retention_days integer NOT NULL DEFAULT 180;

-- Each campaign's purge, announced once (CampaignPurgeStarted): the unique campaign_id holds "once"
-- even when the periodic check and the admin's request race.
CREATE TABLE campaign_purges (
    purge_id                text        PRIMARY KEY,
    campaign_id             text        NOT NULL UNIQUE REFERENCES campaigns,
    purge_before            timestamptz NOT NULL,
    announced_at            timestamptz NOT NULL,
    requested_by            text        NOT NULL,  -- 'schedule' (the periodic check) or 'admin'
    applications_anonymised integer     NOT NULL,
    roster_entries_deleted  integer     NOT NULL
);

-- An anonymised application (purge or erasure) keeps its status, dates, school, level and channel (the
-- figures) and its history; its identities are nulled.
ALTER TABLE applications
    ALTER COLUMN student_last_name DROP NOT NULL,
    ALTER COLUMN student_first_name DROP NOT NULL,
    ALTER COLUMN student_birth_date DROP NOT NULL,
    ALTER COLUMN student_key DROP NOT NULL,
    ALTER COLUMN guardian_last_name DROP NOT NULL,
    ALTER COLUMN guardian_first_name DROP NOT NULL,
    ALTER COLUMN guardian_email DROP NOT NULL,
    ALTER COLUMN address_line DROP NOT NULL,
    ALTER COLUMN address_postcode DROP NOT NULL,
    ALTER COLUMN address_city DROP NOT NULL,
    ADD COLUMN anonymised_at timestamptz,
    ADD COLUMN anonymised_by text CHECK (anonymised_by IN ('purge', 'erasure'));
-- A campaign's purge and figures.
CREATE INDEX applications_by_campaign ON applications (campaign_id);
-- A guardian's export and erasure, by e-mail whatever its case.
CREATE INDEX applications_by_guardian_email ON applications (lower(guardian_email)) WHERE guardian_email IS NOT NULL;

-- A roster belongs to the campaign in season when it was imported (enrolment open that day, the latest
-- opened if several; otherwise the latest campaign opened before; otherwise the next one to open), and
-- is deleted at that campaign's purge.
ALTER TABLE roster_entries ADD COLUMN campaign_id text REFERENCES campaigns;
ALTER TABLE roster_imports ADD COLUMN campaign_id text REFERENCES campaigns;
UPDATE roster_entries r SET campaign_id = (
    SELECT c.campaign_id FROM campaigns c, LATERAL (SELECT (r.imported_at AT TIME ZONE 'Europe/Paris')::date AS day) d
    ORDER BY (c.enrolment_opens <= d.day AND d.day <= c.enrolment_closes) DESC, (c.enrolment_opens <= d.day) DESC,
             abs(d.day - c.enrolment_opens), c.campaign_id
    LIMIT 1);
UPDATE roster_imports i SET campaign_id = (
    SELECT c.campaign_id FROM campaigns c, LATERAL (SELECT (i.imported_at AT TIME ZONE 'Europe/Paris')::date AS day) d
    ORDER BY (c.enrolment_opens <= d.day AND d.day <= c.enrolment_closes) DESC, (c.enrolment_opens <= d.day) DESC,
             abs(d.day - c.enrolment_opens), c.campaign_id
    LIMIT 1);
CREATE INDEX roster_entries_by_campaign ON roster_entries (campaign_id);

-- The weekly digest sent to each school's correspondent: once per school and ISO week, unless the
-- admin forces another.
CREATE TABLE correspondent_digests (
    digest_id     text        PRIMARY KEY,
    school_id     text        NOT NULL REFERENCES schools,
    week          text        NOT NULL,  -- ISO week in Europe/Paris, e.g. 2014-W38
    due_at        timestamptz NOT NULL,
    sent_at       timestamptz NOT NULL,
    total_waiting integer     NOT NULL,
    forced        boolean     NOT NULL
);
CREATE UNIQUE INDEX correspondent_digests_once_a_week ON correspondent_digests (school_id, week) WHERE NOT forced;

-- Erasures done at a guardian's request: what was erased, never whose address it was.
CREATE TABLE privacy_erasures (
    erasure_id      text        PRIMARY KEY,
    requested_at    timestamptz NOT NULL,
    requested_by    text        NOT NULL,
    application_ids text[]      NOT NULL,
    wallet_ids      text[]      NOT NULL,
    campaign_ids    text[]      NOT NULL
);
