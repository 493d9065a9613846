-- SQLite twin of postgres/0065_config_waits_for_submits.sql: SQLite has one
-- writer, so a change never overlaps a submit.
SELECT 1;
