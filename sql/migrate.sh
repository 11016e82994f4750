#!/usr/bin/env bash
# migrate.sh -- apply sql/migrations/NNN_*.sql in order, each once.
#
# Usage: DATABASE_URL=postgresql://postgres@/chat?host=/run/postgresql sql/migrate.sh
# The URL must name a role that may create tables and roles (the owner).
# Each migration runs in its own transaction together with its row in
# schema_migrations, under an advisory lock, so running this again (or from
# two places at once) is a no-op for what is already applied.
set -euo pipefail

url=${DATABASE_URL:?set DATABASE_URL to the database to migrate}
dir=$(cd "$(dirname "$0")/migrations" && pwd)
psql_cmd=(psql "$url" -X -q -v ON_ERROR_STOP=1)

"${psql_cmd[@]}" -c "CREATE TABLE IF NOT EXISTS schema_migrations (
    version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())" 2>&1 |
    grep -v 'already exists, skipping' >&2 || true

applied=0
for file in "$dir"/[0-9][0-9][0-9]_*.sql; do
    version=$(basename "$file" .sql)
    [[ $version =~ ^[0-9]{3}_[a-z0-9_]+$ ]] || { echo "migrate: bad file name $file" >&2; exit 1; }
    result=$("${psql_cmd[@]}" -tA -v version="$version" -v file="$file" <<'SQL'
BEGIN;
SELECT pg_advisory_xact_lock(7242015);
SELECT NOT EXISTS (SELECT 1 FROM schema_migrations WHERE version = :'version') AS pending \gset
\if :pending
\i :file
INSERT INTO schema_migrations (version) VALUES (:'version');
SELECT 'applied';
\endif
COMMIT;
SQL
    )
    if grep -q '^applied$' <<<"$result"; then
        echo "migrate: applied $version"
        applied=$((applied + 1))
    fi
done
echo "migrate: $applied applied, database is up to date"
