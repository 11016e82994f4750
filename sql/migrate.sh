#!/usr/bin/env bash
# migrate.sh -- apply sql/migrations/NNN_*.sql in order, each once.
#
# Usage: DATABASE_URL=postgresql://postgres@/chat?host=/run/postgresql sql/migrate.sh
# The URL must name a role that may create tables and roles (the owner).
# Each migration runs in its own transaction together with its row in
# schema_migrations, under an advisory lock, so running this again (or from
# two places at once) is a no-op for what is already applied. Migrations are
# forward-only: a shipped file is never edited, a change is a new number.
#
# After the migrations, every run makes sure the message partitions of this
# month and the next PARTITION_MONTHS_AHEAD months exist (and moves rows out
# of messages_default), see docs/database.md, and warns when the database's
# character type leaves Chinese words out of the text search index.
#
# Environment:
#   DATABASE_URL            the database (required)
#   PARTITION_MONTHS_AHEAD  months of partitions to keep ahead (default 3)
#   MIGRATE_UNTIL           apply only versions up to this number, e.g. 021
#                           (staged upgrades; default: all)
set -euo pipefail

url=${DATABASE_URL:?set DATABASE_URL to the database to migrate}
ahead=${PARTITION_MONTHS_AHEAD:-3}
[[ $ahead =~ ^[0-9]{1,3}$ ]] || { echo "migrate: PARTITION_MONTHS_AHEAD must be a number of months, not '$ahead'" >&2; exit 1; }
until=${MIGRATE_UNTIL:-999}
[[ $until =~ ^[0-9]{1,3}$ ]] || { echo "migrate: MIGRATE_UNTIL must be a migration number, not '$until'" >&2; exit 1; }
dir=$(cd "$(dirname "$0")/migrations" && pwd)
psql_cmd=(psql "$url" -X -q -v ON_ERROR_STOP=1)

"${psql_cmd[@]}" -c "CREATE TABLE IF NOT EXISTS schema_migrations (
    version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())" 2>&1 |
    grep -v 'already exists, skipping' >&2 || true

applied=0
for file in "$dir"/[0-9][0-9][0-9]_*.sql; do
    version=$(basename "$file" .sql)
    [[ $version =~ ^[0-9]{3}_[a-z0-9_]+$ ]] || { echo "migrate: bad file name $file" >&2; exit 1; }
    ((10#${version%%_*} <= 10#$until)) || continue
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

# Keep message partitions ahead (the function exists from migration 021 on).
created=$("${psql_cmd[@]}" -tA -v ahead="$ahead" <<'SQL'
SELECT CASE WHEN to_regprocedure('chat_create_partitions(integer)') IS NULL THEN 0
            ELSE chat_create_partitions(:'ahead'::int) END;
SQL
)
echo "migrate: $created message partition(s) created ($ahead month(s) ahead)"

# The trigram search index (026, on message_search) indexes the letters the
# database's LC_CTYPE classifies as letters: under C or POSIX, no Chinese ones.
ctype_check=$("${psql_cmd[@]}" -tA -F ' ' <<'SQL'
SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') AS trgm \gset
\if :trgm
SELECT cardinality(show_trgm(chr(20013) || chr(25991) || chr(23383))) > 0, datctype
FROM pg_database WHERE datname = current_database();
\else
SELECT true, '';
\endif
SQL
)
read -r cjk ctype <<<"$ctype_check"
if [ "$cjk" != t ]; then
    echo "migrate: warning: the database's LC_CTYPE is $ctype, which has no Chinese letters:" \
        "the text search index skips Chinese words (docs/database.md, \"Search and the character type\")" >&2
fi
