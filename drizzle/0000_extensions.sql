-- Case-insensitive emails (citext) and index-backed substring search on names (pg_trgm).
-- Both are trusted extensions: the database owner may create them without superuser rights.
CREATE EXTENSION IF NOT EXISTS citext;
--> statement-breakpoint
CREATE EXTENSION IF NOT EXISTS pg_trgm;
