-- The delivery inbox: every WebSub event the hub delivered with a valid
-- signature, stored before the hub is answered.
CREATE TABLE notification_deliveries (
    event_id        text PRIMARY KEY CHECK (length(event_id) BETWEEN 1 AND 256),
    topic           text NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('credential', 'status')),
    state           text NOT NULL CHECK (state IN ('received', 'done', 'ignored', 'dead', 'discarded')),
    body            bytea NOT NULL,
    fetched         text NOT NULL DEFAULT '',
    registration_id text NOT NULL DEFAULT '',
    transaction_id  text NOT NULL DEFAULT '',
    reason          text NOT NULL DEFAULT '',
    attempts        integer NOT NULL DEFAULT 0,
    job_id          bigint,
    received_at     timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);
CREATE INDEX notification_deliveries_state ON notification_deliveries (state, received_at DESC, event_id DESC);
CREATE INDEX notification_deliveries_received ON notification_deliveries (received_at DESC, event_id DESC);
CREATE INDEX notification_deliveries_rid ON notification_deliveries (registration_id) WHERE registration_id <> '';
