-- SQLite twin of postgres/0064_tenant_row_unlocked.sql: SQLite has one writer
-- and no row locks, so its tables keep their foreign keys to tenants.
SELECT 1;
