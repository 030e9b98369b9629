-- Ticket codes encrypted at rest (wallet/codes.py): the database holds each code's keyed hash (the
-- one redemption knows it by; unique, so no two tickets share a code) and its AES-GCM ciphertext
-- with the id of the key it was sealed under (CARNET_WALLET_CODE_KEYS), never the code.
ALTER TABLE tickets
    ADD COLUMN code_hash       text,
    ADD COLUMN code_key_id     text,
    ADD COLUMN code_ciphertext bytea,
    ADD CONSTRAINT tickets_code_sealed CHECK ((code_key_id IS NULL) = (code_ciphertext IS NULL));

-- Codes credited before: SQL cannot seal them (the keys are the service's, never the migration's),
-- so they move under the key id 'cleartext', which the service re-encrypts under its first key (and
-- gives its keyed hash) as soon as it starts; then no row is under it. The clear column goes now.
UPDATE tickets SET code_key_id = 'cleartext', code_ciphertext = convert_to(code, 'UTF8')
WHERE code IS NOT NULL;
ALTER TABLE tickets DROP COLUMN code;

CREATE UNIQUE INDEX tickets_code_hash ON tickets (code_hash);
-- The re-encryption looks for codes under another key than the first.
CREATE INDEX tickets_code_key_id ON tickets (code_key_id) WHERE code_key_id IS NOT NULL;
