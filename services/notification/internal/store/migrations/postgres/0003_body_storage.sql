-- A delivery's body carries the credential encrypted and base64-encoded,
-- and fetched is the same from a data share: neither compresses, so
-- PostgreSQL's attempt to compress each one (pglz, for every value over
-- about 2 kB) is CPU spent on every delivery for nothing. EXTERNAL stores
-- them out of line without trying. Existing rows are left as they are.
ALTER TABLE notification_deliveries
    ALTER COLUMN body SET STORAGE EXTERNAL,
    ALTER COLUMN fetched SET STORAGE EXTERNAL;
