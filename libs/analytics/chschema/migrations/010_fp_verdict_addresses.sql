-- The addresses an fp: verdict lists (Verdict.addresses: the only addresses a
-- fingerprint's verdict is enforced on, at most 1,024; ARCHITECTURE.md
-- "Fingerprint verdicts"), so that a campaign's history in ClickHouse shows
-- whom it blocked. Empty for every other subject and for lifts.
-- 18.16 has no ADD COLUMN IF NOT EXISTS: Apply treats "column exists" as done.
ALTER TABLE {{.DB}}.verdicts ADD COLUMN addresses Array(String) AFTER reasons;
