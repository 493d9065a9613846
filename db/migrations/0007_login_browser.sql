-- A login is bound to the browser that started it: the hash of a short-lived
-- cookie set at /login must come back at the callback (login CSRF).
ALTER TABLE login_attempts ADD COLUMN browser_hash TEXT NOT NULL DEFAULT '';
