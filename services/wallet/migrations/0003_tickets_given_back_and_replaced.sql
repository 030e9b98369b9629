-- A voided ticket is blank again (its amount back in the remaining, its code gone) and can be
-- credited with a new code; a lost ticket is replaced: `replace_pending` holds the new code, sealed,
-- until the redemption service has revoked the old one. A redeemed ticket names who redeemed it.
ALTER TABLE tickets DROP CONSTRAINT tickets_status_check;
ALTER TABLE tickets ADD CONSTRAINT tickets_status_check
    CHECK (status IN ('blank', 'credited', 'redeemed', 'void_pending', 'voided', 'replace_pending'));

ALTER TABLE tickets
    ADD COLUMN pending_code_hash       text,
    ADD COLUMN pending_code_key_id     text,
    ADD COLUMN pending_code_ciphertext bytea,
    ADD COLUMN replace_refusal_reason  text,
    ADD COLUMN redeemed_by             text,
    ADD CONSTRAINT tickets_pending_code_sealed
        CHECK ((pending_code_key_id IS NULL) = (pending_code_ciphertext IS NULL));
CREATE UNIQUE INDEX tickets_pending_code_hash ON tickets (pending_code_hash);
CREATE INDEX tickets_pending_code_key_id ON tickets (pending_code_key_id) WHERE pending_code_key_id IS NOT NULL;

-- Tickets voided before this version could never be credited again (their amount went back to the
-- remaining with no ticket to put it on): they are blank again. `voided` stays valid for history.
UPDATE tickets
SET status = 'blank', amount_cents = NULL, code_hash = NULL, code_key_id = NULL, code_ciphertext = NULL,
    affiliate_id = NULL, credited_at = NULL, updated_at = now()
WHERE status = 'voided';
