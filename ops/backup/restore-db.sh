#!/bin/sh
# Restore step 2, in the postgres image: checks db.dump against the manifest, refuses a database that
# already has tables, then restores in one transaction (all or nothing). Env: libpq's PG*, BACKUP_ID.
set -eu
id="${BACKUP_ID:?BACKUP_ID names the backup to restore}"
dir="/backups/$id"
[ -f "$dir/manifest.json" ] || { echo "restore-db: $dir/manifest.json missing (incomplete backup?)" >&2; exit 2; }
expected="$(sed -n 's/.*"db_sha256": *"\([0-9a-f]\{64\}\)".*/\1/p' "$dir/manifest.json")"
actual="$(sha256sum "$dir/db.dump" | cut -d' ' -f1)"
[ -n "$expected" ] && [ "$expected" = "$actual" ] || { echo "restore-db: db.dump checksum mismatch" >&2; exit 3; }
tables="$(psql -X -A -t -v ON_ERROR_STOP=1 -c "select count(*) from pg_tables where schemaname not in ('pg_catalog','information_schema')")"
[ "$tables" = 0 ] || { echo "restore-db: database $PGDATABASE is not empty ($tables tables); restore into an empty one" >&2; exit 4; }
pg_restore --exit-on-error --single-transaction --no-owner --no-privileges --dbname="$PGDATABASE" "$dir/db.dump"
echo "restore-db: $id restored into $PGDATABASE"
