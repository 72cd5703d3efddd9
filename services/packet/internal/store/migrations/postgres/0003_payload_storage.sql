-- The payload and token are sealed (AES-256-GCM) and base64-encoded: they
-- do not compress, so PostgreSQL's attempt to compress each payload (pglz,
-- for every value over about 2 kB) is CPU spent on every registration for
-- nothing. EXTERNAL stores them out of line without trying. Existing rows
-- are left as they are.
ALTER TABLE packet_transactions
    ALTER COLUMN payload_enc SET STORAGE EXTERNAL,
    ALTER COLUMN token_enc SET STORAGE EXTERNAL;
