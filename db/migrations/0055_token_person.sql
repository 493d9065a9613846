-- A token minted by `stateward login` acts for the person who signed in
-- (user_id): at each request it may do no more than that person's current role in
-- the team (as a member or through IdP groups), and nothing once they are no
-- longer in it. Tokens made by `stateward token create` or the tokens page have no
-- user_id and keep their own role. Deleting the person deletes their tokens: a
-- bound token must never become an unbound one.
ALTER TABLE api_tokens ADD COLUMN user_id INTEGER REFERENCES users (id) ON DELETE CASCADE;
CREATE INDEX api_tokens_user ON api_tokens (user_id);

-- An audit event made with a person's token names the person too.
ALTER TABLE audit_events ADD COLUMN actor_person_id INTEGER NOT NULL DEFAULT 0;
ALTER TABLE audit_events ADD COLUMN actor_person TEXT NOT NULL DEFAULT '';
