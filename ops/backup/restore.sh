#!/usr/bin/env bash
# `pnpm ops:restore ID [compose args…]`: restores backup ID into an EMPTY database and bucket (both
# steps refuse anything else). Stop api and worker first (runbook/deploy.md, "Restore"); objects go
# first, so that no restored document row ever points at missing bytes.
set -euo pipefail
id="${1:?usage: restore.sh BACKUP_ID [compose args…]}"
shift
compose=(docker compose "$@")
"${compose[@]}" run --rm --no-deps -e BACKUP_ID="$id" restore-objects >&2
"${compose[@]}" run --rm --no-deps -e BACKUP_ID="$id" restore-db >&2
echo "restored $id: run the migrate job, then start api and worker" >&2
