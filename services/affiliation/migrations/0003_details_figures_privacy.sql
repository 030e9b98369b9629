-- Issue 15: organisations keep their own details; issue 13: only what is needed, for as long as needed.

-- What an act changed, beside who, when and from where: the fields of a details change, an IBAN's
-- last four characters (never a whole IBAN nor an address).
ALTER TABLE audit_trail ADD COLUMN details jsonb;

-- An IBAN change waiting for the code e-mailed to the contact, and that code's window (the same
-- limits as the convention's codes). One row per organisation; new_iban is cleared once confirmed.
CREATE TABLE iban_changes (
    affiliate_id      text        PRIMARY KEY REFERENCES affiliates (affiliate_id),
    new_iban          text,
    requested_by      text,
    requested_at      timestamptz,
    otp_hash          text,        -- k1:<HMAC-SHA256> of the code, the organisation and the new IBAN
    otp_expires_at    timestamptz,
    otp_failed_attempts integer   NOT NULL DEFAULT 0,
    otp_issues        integer     NOT NULL DEFAULT 0,
    otp_window_started_at timestamptz,
    updated_at        timestamptz NOT NULL DEFAULT now()
);

-- Nothing here reads which wallet a redemption came from: statement lines stop keeping it (a replica
-- of the previous version may still write it until it stops; the purge and erasures clear it).
ALTER TABLE statement_lines ALTER COLUMN wallet_id DROP NOT NULL;
UPDATE statement_lines SET wallet_id = NULL WHERE wallet_id IS NOT NULL;
-- Assigned tickets keep it only until the campaign's purge, or the family's erasure clears it.
ALTER TABLE assigned_tickets ALTER COLUMN wallet_id DROP NOT NULL;
CREATE INDEX assigned_tickets_by_wallet ON assigned_tickets (wallet_id) WHERE wallet_id IS NOT NULL;
CREATE INDEX assigned_tickets_by_campaign ON assigned_tickets (campaign_id);

-- A campaign's figures add up its lines by organisation and status (GET /v1/stats).
CREATE INDEX statement_lines_by_campaign ON statement_lines (campaign_id, affiliate_id, status);

-- The lock columns no version reads since 0002: dropped, as 0002 announced. (An upgrade from a version
-- older than 0002 goes through 0002's version first, so that no replica reading them still runs.)
ALTER TABLE affiliates DROP COLUMN failed_logins, DROP COLUMN locked_until;
