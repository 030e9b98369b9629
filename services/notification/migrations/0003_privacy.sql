-- Issue 13: a family's erasure and export find every message about it, a campaign's purge erases its
-- messages' personal data and keeps what the delivery figures read.

-- Whom each message is about (the ids GuardianErasureRequested names), and the subject it keeps once
-- its personal data is erased: the same subject with the names and addresses in it masked.
ALTER TABLE messages
    ADD COLUMN application_ids text[] NOT NULL DEFAULT '{}',
    ADD COLUMN wallet_ids text[] NOT NULL DEFAULT '{}',
    ADD COLUMN family_subs text[] NOT NULL DEFAULT '{}',
    ADD COLUMN impersonal_subject text;
CREATE INDEX messages_about_applications ON messages USING gin (application_ids);
CREATE INDEX messages_about_wallets ON messages USING gin (wallet_ids);
CREATE INDEX messages_about_families ON messages USING gin (family_subs);
-- the figures of a campaign, by template and state (GET /v1/stats), read after the purge too
CREATE INDEX messages_by_campaign_template ON messages (campaign_id, template, state);
-- a ticket sheet queued before this migration names its wallet in its attachment
UPDATE messages SET wallet_ids = ARRAY[attachment->>'wallet_id']
WHERE attachment ? 'wallet_id' AND forgotten_at IS NULL;

-- The family account an application was made from (none for a paper form): a family's export and
-- erasure find its copies by it.
ALTER TABLE families ADD COLUMN family_sub text;
CREATE INDEX families_by_family ON families (family_sub);
CREATE INDEX families_by_campaign ON families (campaign_id);
CREATE INDEX families_by_email ON families (guardian_email);
CREATE INDEX wallet_readiness_by_campaign ON wallet_readiness (campaign_id);

-- wallet_id -> the guardian's address and the pupil's first name (WalletCreated): whom to tell that a
-- ticket was used, that the pass ends soon, that a ticket could not be replaced.
CREATE TABLE wallets (
    wallet_id          text        PRIMARY KEY,
    application_id     text        NOT NULL,
    campaign_id        text        NOT NULL,
    family_sub         text,
    guardian_email     text        NOT NULL,
    student_first_name text        NOT NULL,
    forget_at          timestamptz NOT NULL
);
CREATE INDEX wallets_by_application ON wallets (application_id);
CREATE INDEX wallets_by_family ON wallets (family_sub);
CREATE INDEX wallets_by_campaign ON wallets (campaign_id);
CREATE INDEX wallets_by_email ON wallets (guardian_email);
CREATE INDEX wallets_to_forget ON wallets (forget_at);

-- An organisation's name is known from AffiliateActivated before any notice gave its contact (the
-- ticket-used e-mail names it); its contact comes from affiliation.notices.
ALTER TABLE affiliates ALTER COLUMN contact_email DROP NOT NULL;
