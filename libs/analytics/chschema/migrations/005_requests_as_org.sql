-- The client network's organisation name, from the shipper's GeoIP
-- enrichment (RequestEvent.as_org). country and asn already exist; since this
-- migration they hold the enriched values (the CDN's when it gave them).
-- 18.16 has no ADD COLUMN IF NOT EXISTS: Apply treats "column exists" as done.
ALTER TABLE {{.DB}}.requests ADD COLUMN as_org {{lc}} AFTER asn;
