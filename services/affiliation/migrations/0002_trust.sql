-- Issue 12: logins that can't be used against their owner, one-time codes kept keyed.

-- An account is no longer locked for everyone: failures are counted per login and client address
-- (affiliation/domain/login.py). A row is written before the password is checked and removed when
-- it was right, so that parallel attempts count; rows older than a day are purged.
-- affiliates.failed_logins and .locked_until are no longer read or written; they stay until no
-- replica of the previous version runs (the init container migrates before old pods are gone),
-- and a later migration drops them.
CREATE TABLE login_failures (
    id             bigserial   PRIMARY KEY,
    login          text        NOT NULL,  -- as typed (lowercase): unknown logins are counted too
    client_address text        NOT NULL,
    at             timestamptz NOT NULL
);
-- failures on one account (its delay), and one client's failures (its limits)
CREATE INDEX login_failures_by_login ON login_failures (login, at);
CREATE INDEX login_failures_by_client ON login_failures (client_address, at);

-- Convention codes: how many were sent and since when (the window their limits apply to).
ALTER TABLE affiliates
    ADD COLUMN otp_issues            integer NOT NULL DEFAULT 0,
    ADD COLUMN otp_window_started_at timestamptz;
-- Codes are now kept as an HMAC under CARNET_AFFILIATION_SECRET_KEY: a code sent before (a plain
-- SHA-256 of six digits, live ten minutes) is withdrawn; the person asks for a new one.
UPDATE affiliates SET otp_hash = NULL, otp_expires_at = NULL WHERE otp_hash IS NOT NULL;

-- Activation and reset links are now kept keyed too ('k1:' + HMAC); a link e-mailed before stays
-- valid under its plain SHA-256 until it expires (a week at most).
COMMENT ON COLUMN account_tokens.token_hash IS 'k1:<HMAC-SHA256 under the service key>, or the SHA-256 of a link issued before 0002';
