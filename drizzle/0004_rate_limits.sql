-- UNLOGGED: rate-limit counters are ephemeral (a crash may reset them), so their writes skip the WAL
-- and never wait for a flush. drizzle-kit does not model UNLOGGED and reports no diff for it.
CREATE UNLOGGED TABLE "rate_limits" (
	"key" varchar(255) PRIMARY KEY NOT NULL,
	"points" integer DEFAULT 0 NOT NULL,
	"expire" bigint
);
--> statement-breakpoint
CREATE INDEX "rate_limits_expire_index" ON "rate_limits" USING btree ("expire");