-- Transactions of the packet service, their audit trail and the sequence
-- that numbers them. River's tables are created by River's own migrations.

-- Numbers transaction ids. nextval never hands out a number twice, even
-- across rolled-back transactions, so ids are unique by construction.
CREATE SEQUENCE packet_transaction_seq AS bigint MINVALUE 1 NO CYCLE;

CREATE TABLE packet_transactions (
    -- TRANSACTION_ID_PREFIX + zero-padded sequence number.
    id                  text PRIMARY KEY CHECK (id ~ '^[0-9]{15}$'),
    process             text NOT NULL CHECK (process IN ('CRVS_NEW', 'CRVS_DEATH', 'CRVS_UPDATE')),
    status              text NOT NULL CHECK (status IN ('received', 'packet_created', 'processing_started',
                            'credential_received', 'confirmed', 'flagged_for_rejection', 'rejected', 'failed', 'cancelled')),
    -- eventId and actionId claims of the OpenCRVS record token; '' when absent.
    event_id            text NOT NULL DEFAULT '',
    action_id           text NOT NULL DEFAULT '' CHECK (action_id = '' OR event_id <> ''),
    registration_number text NOT NULL DEFAULT '',
    -- MOSIP registration id (RID) the packet is sent under.
    registration_id     text NOT NULL DEFAULT '',
    tracking_id         text NOT NULL DEFAULT '',
    -- "<key id>:<base64(nonce|ciphertext)>" (AES-256-GCM); '' when absent or purged.
    token_enc           text NOT NULL DEFAULT '',
    payload_enc         text NOT NULL DEFAULT '',
    job_id              bigint NOT NULL DEFAULT 0,
    attempts            integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    -- Never personal data.
    last_error          text NOT NULL DEFAULT '',
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    purged_at           timestamptz
);

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
    seq            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    transaction_id text NOT NULL REFERENCES packet_transactions (id) ON DELETE RESTRICT,
    at             timestamptz NOT NULL,
    from_status    text NOT NULL,
    to_status      text NOT NULL,
    -- Never personal data.
    detail         text NOT NULL DEFAULT ''
);
CREATE INDEX packet_audit_transaction ON packet_audit (transaction_id, seq);

-- The audit trail is append-only: the database refuses to change or remove it.
CREATE FUNCTION packet_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    RAISE EXCEPTION 'packet_audit is append-only';
END
$fn$;
CREATE TRIGGER packet_audit_no_change BEFORE UPDATE OR DELETE ON packet_audit
    FOR EACH ROW EXECUTE FUNCTION packet_audit_append_only();
CREATE TRIGGER packet_audit_no_truncate BEFORE TRUNCATE ON packet_audit
    FOR EACH STATEMENT EXECUTE FUNCTION packet_audit_append_only();
