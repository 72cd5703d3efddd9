-- The sequence part of MOSIP's 29-digit registration ids (RIDs): centre (5)
-- + machine (5) + sequence (5) + UTC yyyyMMddHHmmss (14). Incremented in a
-- write transaction of its own (SQLite's single writer serializes it); it
-- runs 0..99999 and then wraps, like the Postgres sequence. The first draw
-- gives 0.
CREATE TABLE packet_rid_counter (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    last INTEGER NOT NULL CHECK (last >= 0 AND last <= 99999)
) STRICT;
INSERT INTO packet_rid_counter (id, last) VALUES (1, 99999);
