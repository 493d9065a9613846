-- Credentials are bound to the endpoints they were entered for: a stored Secret's
-- values go only to the endpoints (scheme://host:port, one per line) of the stores
-- applied together with it. Secrets stored before this have no endpoint and must be
-- applied again together with their store before a store may newly use them.
ALTER TABLE secrets ADD COLUMN endpoints TEXT NOT NULL DEFAULT '';
