#!/bin/sh
# Backup step 1, in the postgres image (its pg_dump matches the server's major version): a custom-format
# dump, which is one consistent snapshot, and the documents table read back out of that dump, so that
# step 2 (dist/backup.js) copies exactly the objects this dump references. Then keeps the newest
# BACKUP_KEEP complete backups. Env: PGHOST PGUSER PGPASSWORD PGDATABASE, BACKUP_ID, BACKUP_KEEP.
set -eu
id="${BACKUP_ID:-$(date -u +%Y%m%dT%H%M%SZ)}"
case "$id" in *[!A-Za-z0-9._-]* | '') echo "backup-db: bad BACKUP_ID '$id'" >&2; exit 2 ;; esac
dir="/backups/$id"
[ -e "$dir" ] && { echo "backup-db: $dir already exists" >&2; exit 2; }
mkdir -p "$dir"
# Rate-limit counters are an UNLOGGED table of ephemeral state: not worth restoring (and a restored
# lock-out would outlive its window).
pg_dump --format=custom --compress=6 --no-owner --no-privileges --no-unlogged-table-data --file="$dir/db.dump"
pg_restore --data-only --table=documents --file="$dir/documents.copy" "$dir/db.dump"
pg_dump --version >"$dir/pg_dump.version"
echo "backup-db: $dir/db.dump ($(wc -c <"$dir/db.dump") bytes)"

# Retention: complete backups (with a manifest) beyond the newest BACKUP_KEEP go; ids sort by time.
keep="${BACKUP_KEEP:-14}"
ls -1 /backups | while read -r old; do
  [ -f "/backups/$old/manifest.json" ] && echo "$old"
done | sort -r | tail -n +"$((keep + 1))" | while read -r old; do
  rm -rf "/backups/$old" && echo "backup-db: pruned $old"
done
