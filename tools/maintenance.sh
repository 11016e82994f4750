#!/usr/bin/env bash
# maintenance.sh -- the periodic database job (docs/database.md): keep the
# message partitions ahead (and empty messages_default), apply the message
# retention, delete old expired/revoked sessions.
#
#   DATABASE_URL=... tools/maintenance.sh                run once
#   DATABASE_URL=... tools/maintenance.sh --every SECS   run now, then every
#                                                        SECS seconds until
#                                                        SIGTERM/SIGINT
# `make run` (tools/stack.sh run) starts it with --every $MAINTENANCE_INTERVAL.
#
# Environment:
#   DATABASE_URL            the database, as its owner (required)
#   PARTITION_MONTHS_AHEAD  months of partitions kept ahead (default 3)
#   MESSAGE_RETENTION       e.g. '12 months': drop the partitions (months)
#                           entirely older than this; unset or empty = keep
#                           everything (default)
#   MESSAGE_ARCHIVE         1 = detach old partitions into schema
#                           chat_archive instead of dropping them (default 0)
#   SESSION_GRACE           delete sessions expired or revoked longer ago
#                           than this (default '1 day')
#   MAINTENANCE_LOCK_TIMEOUT  give up a step (until the next run) rather than
#                           wait longer than this for a lock (default '10s'),
#                           so a long query does not stall the relays behind it
# One line per run on standard output; errors on standard error. Exit status
# (single run): 0 when every step succeeded, 1 otherwise.
set -uo pipefail

url=${DATABASE_URL:?set DATABASE_URL to the database (as its owner)}
ahead=${PARTITION_MONTHS_AHEAD:-3}
retention=${MESSAGE_RETENTION:-}
archive=${MESSAGE_ARCHIVE:-0}
grace=${SESSION_GRACE:-1 day}
lock_timeout=${MAINTENANCE_LOCK_TIMEOUT:-10s}

die() { echo "maintenance: $*" >&2; exit 1; }

[[ $ahead =~ ^[0-9]{1,3}$ ]] || die "PARTITION_MONTHS_AHEAD must be a number of months, not '$ahead'"
[[ $archive =~ ^[01]$ ]] || die "MESSAGE_ARCHIVE must be 0 or 1, not '$archive'"

# One run: each step commits on its own; the first failing step ends the
# run (the steps before it stay done) and the next run tries again.
run_once() {
    local out rc
    out=$(psql "$url" -X -q -tA -F ' ' -v ON_ERROR_STOP=1 -v ahead="$ahead" \
          -v retention="$retention" -v archive="$archive" -v grace="$grace" \
          -v lock_timeout="$lock_timeout" 2>&1 <<'SQL'
SET client_min_messages = warning;
SET lock_timeout = :'lock_timeout';
SELECT 'partitions_created', chat_create_partitions(:'ahead'::int);
SELECT :'retention' <> '' AS has_retention \gset
\if :has_retention
SELECT 'partitions_removed', chat_drop_partitions(:'retention'::interval, :'archive'::int = 1);
\else
SELECT 'partitions_removed', 0;
\endif
SELECT 'sessions_deleted', chat_cleanup_sessions(:'grace'::interval);
SQL
    )
    rc=$?
    if [ "$rc" != 0 ]; then
        echo "maintenance: $(date -u +%FT%TZ) failed: $(tr '\n' ' ' <<<"$out")" >&2
        return 1
    fi
    echo "maintenance: $(date -u +%FT%TZ) $(awk '{printf "%s=%s ", $1, $2}' <<<"$out")retention=${retention:-none}"
}

case ${1:-} in
"")
    run_once
    ;;
--every)
    every=${2:-}
    [[ $every =~ ^[1-9][0-9]*$ ]] || die "--every needs a number of seconds, not '$every'"
    sleeper=""
    trap '[ -n "$sleeper" ] && kill "$sleeper" 2>/dev/null; exit 0' TERM INT
    while :; do
        run_once || true
        sleep "$every" &
        sleeper=$!
        wait "$sleeper"
        sleeper=""
    done
    ;;
*)
    sed -n '2,24p' "$0" >&2
    exit 2
    ;;
esac
