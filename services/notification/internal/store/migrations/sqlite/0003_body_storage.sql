-- PostgreSQL's 0003 stops compressing the encrypted bodies; SQLite never
-- compresses. This keeps the two migration histories the same.
SELECT 1;
