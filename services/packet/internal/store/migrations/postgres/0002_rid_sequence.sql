-- The sequence part of MOSIP's 29-digit registration ids (RIDs): centre (5)
-- + machine (5) + sequence (5) + UTC yyyyMMddHHmmss (14). Every replica
-- draws from this one sequence, so RIDs made in the same second differ.
-- It runs 0..99999 and then wraps: two RIDs can only collide when 100,000
-- are drawn within one second (docs/packet.md). nextval is outside
-- transactions and never hands out a number twice before wrapping.
CREATE SEQUENCE packet_rid_seq AS integer MINVALUE 0 MAXVALUE 99999 START WITH 0 CYCLE;
