-- The bot a request declares (by User-Agent, from the bot directory: name and
-- category such as search, seo, ai-training), for "bots by category". Empty
-- for a client that claims none. Whether the claim is true is the decider's
-- to say: its verdicts carry "bot=NAME category=C status=impostor" for false ones.
-- ClickHouse 18.16 has no ADD COLUMN IF NOT EXISTS: Apply skips an ADD COLUMN
-- whose column exists, so this runs again safely.
ALTER TABLE {{.DB}}.requests ADD COLUMN bot {{lc}} DEFAULT '';
ALTER TABLE {{.DB}}.requests ADD COLUMN bot_category {{lc}} DEFAULT '';
-- 1 when the declared bot fetched a path the site's robots.txt forbids it
-- (BULWARK_CHSINK_ROBOTS says where each host's robots.txt is).
ALTER TABLE {{.DB}}.requests ADD COLUMN robots_disallowed UInt8 DEFAULT 0;
