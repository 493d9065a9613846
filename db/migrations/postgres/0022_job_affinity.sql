-- A store's queued job goes first to the replica that wrote the store last (its
-- Git cache already holds the tip); another replica may take it once
-- affinity_until has passed.
ALTER TABLE jobs ADD COLUMN affinity TEXT NOT NULL DEFAULT '';
ALTER TABLE jobs ADD COLUMN affinity_until TIMESTAMPTZ;
