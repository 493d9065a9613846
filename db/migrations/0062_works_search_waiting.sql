-- works_search again, with the Work's unscheduled groups after its search text
-- ('[]' for nearly every Work: two bytes): counting a team's waiting Works along works_search then reads
-- the index alone, not every Work's wide row. SQLite picks works_search over
-- the partial index works_waiting whenever its statistics say the partial
-- index holds many rows a team — they average over the teams that have waiting
-- Works, so one team with 150,000 makes the index look large for a team with
-- none — and the Overview then read 10,000 rows spread over as many pages (at a
-- million Works, 80 ms). With the column in works_search either plan reads an
-- index only (TestWaitingCountReadsNoRows).
DROP INDEX works_search;
CREATE INDEX works_search ON works (tenant_id, updated_at, id, lower(promise || '/' || res_namespace || '/' || res_name), unscheduled);
