-- PostgreSQL twin of ../0062_works_search_waiting.sql (TestSchemasMatch). Its
-- statistics know per team how many Works wait (the partial index
-- works_waiting and the column's most common values), so its plan does not
-- depend on another team's; the index stays as it is.
SELECT 1;
