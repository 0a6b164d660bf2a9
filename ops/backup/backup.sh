#!/usr/bin/env bash
# `pnpm ops:backup [compose args…]`: a full backup of the running stack into BACKUP_DIR/<id>/, database
# first (the postgres image's pg_dump), then the objects that dump references, then the manifest.
# Extra arguments go to every `docker compose` call (e.g. `-f compose.yml -f compose.ci.yml -p name
# --env-file path`). Prints the backup id on stdout.
set -euo pipefail
id="${BACKUP_ID:-$(date -u +%Y%m%dT%H%M%SZ)}"
compose=(docker compose "$@")
"${compose[@]}" run --rm --no-deps -e BACKUP_ID="$id" backup-db >&2
"${compose[@]}" run --rm --no-deps -e BACKUP_ID="$id" backup-objects >&2
echo "$id"
