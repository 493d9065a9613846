-- A store applied before the Secret it names waits for it (apply in any order).
ALTER TABLE git_stores ADD COLUMN secret_missing BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE bucket_stores ADD COLUMN secret_missing BOOLEAN NOT NULL DEFAULT FALSE;
