-- Transactions of the packet service, their audit trail and the counter
-- that numbers them. River's tables are created by River's own migrations.

-- Numbers transaction ids. Incremented in the transaction that inserts the
-- row, under SQLite's single writer, so ids are unique by construction.
CREATE TABLE packet_id_counter (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    last INTEGER NOT NULL CHECK (last >= 0)
) STRICT;
INSERT INTO packet_id_counter (id, last) VALUES (1, 0);

CREATE TABLE packet_transactions (
    -- TRANSACTION_ID_PREFIX + zero-padded sequence number.
    id                  TEXT PRIMARY KEY CHECK (length(id) = 15 AND id NOT GLOB '*[^0-9]*'),
    process             TEXT NOT NULL CHECK (process IN ('CRVS_NEW', 'CRVS_DEATH', 'CRVS_UPDATE')),
    status              TEXT NOT NULL CHECK (status IN ('received', 'packet_created', 'processing_started',
                            'credential_received', 'confirmed', 'flagged_for_rejection', 'rejected', 'failed', 'cancelled')),
    -- eventId and actionId claims of the OpenCRVS record token; '' when absent.
    event_id            TEXT NOT NULL DEFAULT '',
    action_id           TEXT NOT NULL DEFAULT '' CHECK (action_id = '' OR event_id <> ''),
    registration_number TEXT NOT NULL DEFAULT '',
    -- MOSIP registration id (RID) the packet is sent under.
    registration_id     TEXT NOT NULL DEFAULT '',
    tracking_id         TEXT NOT NULL DEFAULT '',
    -- "<key id>:<base64(nonce|ciphertext)>" (AES-256-GCM); '' when absent or purged.
    token_enc           TEXT NOT NULL DEFAULT '',
    payload_enc         TEXT NOT NULL DEFAULT '',
    job_id              INTEGER NOT NULL DEFAULT 0,
    attempts            INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    -- Never personal data.
    last_error          TEXT NOT NULL DEFAULT '',
    -- UTC, "2006-01-02T15:04:05.000000Z": fixed width, so text order is time order.
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL,
    purged_at           TEXT
) STRICT;

-- Idempotency: one live (not cancelled) transaction per OpenCRVS event and action.
CREATE UNIQUE INDEX packet_transactions_idempotency_key ON packet_transactions (event_id, action_id)
    WHERE event_id <> '' AND action_id <> '' AND status <> 'cancelled';
-- One packet per RID.
CREATE UNIQUE INDEX packet_transactions_registration_id ON packet_transactions (registration_id)
    WHERE registration_id <> '';
CREATE INDEX packet_transactions_created ON packet_transactions (created_at DESC, id DESC);
CREATE INDEX packet_transactions_status ON packet_transactions (status, updated_at);
CREATE INDEX packet_transactions_registration_number ON packet_transactions (registration_number)
    WHERE registration_number <> '';

CREATE TABLE packet_audit (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    transaction_id TEXT NOT NULL REFERENCES packet_transactions (id) ON DELETE RESTRICT,
    at             TEXT NOT NULL,
    from_status    TEXT NOT NULL,
    to_status      TEXT NOT NULL,
    -- Never personal data.
    detail         TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX packet_audit_transaction ON packet_audit (transaction_id, seq);

-- The audit trail is append-only: the database refuses to change or remove it.
CREATE TRIGGER packet_audit_no_update BEFORE UPDATE ON packet_audit
BEGIN
    SELECT RAISE(ABORT, 'packet_audit is append-only');
END;
CREATE TRIGGER packet_audit_no_delete BEFORE DELETE ON packet_audit
BEGIN
    SELECT RAISE(ABORT, 'packet_audit is append-only');
END;
