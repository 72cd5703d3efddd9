-- Finds the deliveries attributed to a bridge transaction (did MOSIP answer
-- it? NOTIFICATION_REJECT_AFTER_SILENCE).
CREATE INDEX notification_deliveries_transaction ON notification_deliveries (transaction_id) WHERE transaction_id <> '';
