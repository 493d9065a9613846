-- Store keys compare byte by byte, as on SQLite, whatever collation the database
-- was created with. The claims find what lies under a directory with the range
-- "app/" < key < "app0", which holds only in byte order: under en_US.UTF-8 or an
-- ICU collation (what most databases are created with) a clash went unseen and
-- a writer was told that a file under a directory was nobody's. The index was
-- already in byte order, and so was not used by these queries. SQLite has no
-- twin: its default collation is byte order.
DROP INDEX claims_key;
ALTER TABLE claims ALTER COLUMN key TYPE TEXT COLLATE "C";
CREATE INDEX claims_key ON claims (tenant_id, store_kind, store_name, key);
