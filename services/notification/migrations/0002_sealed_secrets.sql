-- Secrets are never kept in clear (issue 12). A message that carries an activation or reset link, or a
-- convention's one-time code, is stored with a placeholder where the secret goes; the secret stays sealed
-- as it arrived on Kafka (carnet_contracts.sealing) in `sealed_secret` until the message is sent or has
-- failed for good, then that column is emptied: the log keeps the redacted body only.
ALTER TABLE messages ADD COLUMN sealed_secret jsonb;  -- {kind: link|code, sealed, link_base}

-- Messages stored before this migration hold their secret in clear in their bodies: the bodies go.
-- One not yet sent could no longer carry its secret: it fails (the affiliate asks for a new link or code;
-- no MessageFailed is published for it).
UPDATE messages
SET body_text = NULL, body_html = NULL,
    state = CASE WHEN state IN ('pending', 'sending') THEN 'failed' ELSE state END,
    failed_at = CASE WHEN state IN ('pending', 'sending') THEN now() ELSE failed_at END,
    last_error = CASE WHEN state IN ('pending', 'sending') THEN 'secret effacé avant envoi (mise à jour)'
                      ELSE last_error END,
    lease_until = NULL
WHERE template IN ('affiliate_invitation', 'convention_otp', 'password_reset') AND body_text IS NOT NULL;
