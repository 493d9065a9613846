-- SQLite twin of postgres/0063_clash_guard.sql: SQLite checks clashes before it
-- writes (one writer), so it has no guard to call.
SELECT 1;
