-- A code given out once answers for ever: a voided ticket's code, or a lost ticket's replaced
-- code, is retired here, keyed by its keyed hash (the code itself is never stored). A ticket
-- credited again after a void gets a new code in `tickets`; its old one stays refused.
CREATE TABLE retired_codes (
    code_hash  text        PRIMARY KEY,
    ticket_id  text        NOT NULL,
    reason     text        NOT NULL CHECK (reason IN ('voided', 'replaced')),
    retired_at timestamptz NOT NULL
);

-- Tickets voided before this table existed: their codes are retired too.
INSERT INTO retired_codes (code_hash, ticket_id, reason, retired_at)
SELECT code_hash, ticket_id, 'voided', updated_at FROM tickets WHERE status = 'voided';

-- Who undid a redemption and why: the affiliate within its grace period, or the admin later
-- (a late correction, with a reason, leaving the ticket redeemable again or voided).
ALTER TABLE redemptions
    ADD COLUMN cancelled_by_role text CHECK (cancelled_by_role IN ('affiliate', 'admin')),
    ADD COLUMN cancelled_by      text,
    ADD COLUMN cancel_reason     text,
    ADD COLUMN cancel_then       text CHECK (cancel_then IN ('redeemable', 'void'));

UPDATE redemptions SET cancelled_by_role = 'affiliate', cancelled_by = affiliate_id, cancel_then = 'redeemable'
WHERE status = 'cancelled';
