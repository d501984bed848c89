-- The request fields the aggregator's features read that the requests table
-- lacked, so that `bulwark train --clickhouse` rebuilds the events the engine
-- saw: why a request is malformed (RequestEvent.malformed: "bad_bytes",
-- "bad_request_line"; the malformed_request feature) and the Sec-Fetch-Mode
-- and Sec-Fetch-Dest headers (background_share_10m). Empty where not logged.
-- 18.16 has no ADD COLUMN IF NOT EXISTS: Apply skips an ADD COLUMN whose
-- column exists, so this runs again safely.
ALTER TABLE {{.DB}}.requests ADD COLUMN malformed {{lc}} DEFAULT '';
ALTER TABLE {{.DB}}.requests ADD COLUMN sec_fetch_mode {{lc}} DEFAULT '';
ALTER TABLE {{.DB}}.requests ADD COLUMN sec_fetch_dest {{lc}} DEFAULT '';
