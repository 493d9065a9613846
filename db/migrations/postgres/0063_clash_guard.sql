-- What a submit's clash guard (db.guardClashes) calls when a claim it wants is
-- held: the statement, and with it the transaction, fails with SQLSTATE SW409
-- and a message that says what happened, in the server's log too (the guard
-- used to fail by casting a marker text to an integer, which PostgreSQL logged
-- as "invalid input syntax for type integer"). The submit then runs again and
-- answers 409 naming both Works.
CREATE FUNCTION stateward_clash() RETURNS integer LANGUAGE plpgsql VOLATILE AS $$
BEGIN
	RAISE EXCEPTION 'stateward clash guard: a submitted Work wants a path another Work holds on its Destination; the submit is checked again and answered 409'
		USING ERRCODE = 'SW409';
END
$$;
