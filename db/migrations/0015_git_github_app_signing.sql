-- Git stores may authenticate as a GitHub App against a GitHub Enterprise Server
-- API (empty = api.github.com) and sign their commits; the signing key itself is a
-- sealed credential, its public fingerprint is kept here to be shown.
ALTER TABLE git_stores ADD COLUMN github_api_url TEXT NOT NULL DEFAULT '';
ALTER TABLE git_stores ADD COLUMN signing_fingerprint TEXT NOT NULL DEFAULT '';
