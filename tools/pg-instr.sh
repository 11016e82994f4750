#!/usr/bin/env bash
# pg-instr.sh -- PostgreSQL's instructions per message in the relay's batch
# insert (chat_post_batch_compact, migration 027), counted by callgrind.
#
# What (e) of `make bench` reports per message moves by a fifth with the
# host's speed from one run to the next, more than most changes to the SQL
# side save. An instruction count does not. This starts a stack in a
# temporary directory for its database: 10,000 users with sessions (so the
# planner probes users and sessions by index, as in `make bench`), ROOMS
# rooms and a history of 100 batches; then stops it and, on two copies of its
# data directory, runs N and 4N batches of BATCH messages of (e)'s kind
# ("t=<ns> s=<sender> k=<n>", senders and rooms taking turns) in a
# single-user backend under valgrind --tool=callgrind. The difference of the
# two counts over 3N * BATCH messages is the instructions per message; the
# second run's profile gives the costliest parts (inclusive).
#
#   tools/pg-instr.sh [N]       N batches (default 20)
#   PG_INSTR_BATCH=286          messages per batch ((e)'s average batch)
#   PG_INSTR_ROOMS=5            rooms per batch ((e)'s rooms per writer)
#   PG_INSTR_PREP=FILE.sql      SQL run by psql on the database before its
#                               history is made: a change to try, such as
#                               DROP INDEX or CREATE OR REPLACE FUNCTION
#   PG_INSTR_KEEP=1             keep the directory and its callgrind files
#
# Needs valgrind; not part of make test. Two runs of one build, settings
# and N give the same count to within a few instructions. Different N do
# not quite agree (N = 10, 20, 40: 149,231, 161,823, 162,996 per message):
# a GIN index merges its pending list into the index in steps of 4 MB, and
# the runs' difference holds a whole number of those only roughly. Compare
# variants at the same N, and take N >= 20 for a figure on its own.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
N=${1:-20}
BATCH=${PG_INSTR_BATCH:-286}
ROOMS=${PG_INSTR_ROOMS:-5}
PREP=${PG_INSTR_PREP:-}
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)

die() { echo "pg-instr: $*" >&2; exit 1; }
[[ $N =~ ^[1-9][0-9]{0,3}$ ]] || die "N must be a number of batches, not '$N'"
[[ $BATCH =~ ^[1-9][0-9]{0,3}$ ]] || die "PG_INSTR_BATCH must be a number, not '$BATCH'"
[[ $ROOMS =~ ^[1-9][0-9]{0,2}$ ]] || die "PG_INSTR_ROOMS must be a number, not '$ROOMS'"
[ -z "$PREP" ] || [ -r "$PREP" ] || die "cannot read PG_INSTR_PREP file $PREP"
for tool in valgrind callgrind_annotate psql; do
    command -v "$tool" >/dev/null || die "$tool is missing (apt-get install valgrind)"
done
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

DIR=$(mktemp -d /tmp/chat-pg-instr.XXXXXX)
chmod 755 "$DIR"
cleanup() {
    [ -f "$DIR/stack/env" ] && "$ROOT/tools/stack.sh" stop "$DIR/stack" >/dev/null 2>&1
    if [ "${PG_INSTR_KEEP:-0}" = 1 ]; then echo "pg-instr: kept $DIR" >&2; else rm -rf "$DIR"; fi
}
trap cleanup EXIT

# batches FIRST COUNT: COUNT statements, each one batch (k = FIRST ...).
batches() {
    local k
    for ((k = $1; k < $1 + $2; k++)); do
        echo "SELECT count(*) FROM (SELECT array_agg(room ORDER BY g) a, array_agg(uid ORDER BY g) b," \
            "array_fill('text'::text, ARRAY[count(*)::int]) c, array_agg('t=' ||" \
            "(1795234567000000000 + ($k::bigint * $BATCH + g) * 7919) || ' s=' || uid || ' k=' ||" \
            "($k * $BATCH + g) ORDER BY g) d, array_fill(NULL::text, ARRAY[count(*)::int]) e," \
            "array_agg(hash ORDER BY g) f FROM pg_instr_batch) s," \
            "chat_post_batch_compact(s.a, s.b, s.c, s.d, s.e, s.f);"
    done
}

# --- the database -----------------------------------------------------------
LOG_LEVEL=warn "$ROOT/tools/stack.sh" start "$DIR/stack" >"$DIR/stack.log" 2>&1 ||
    { cat "$DIR/stack.log" >&2; die "the stack did not start"; }
URL=$(. "$DIR/stack/env" && echo "$ADMIN_DATABASE_URL")
psql "$URL" -Xq -v ON_ERROR_STOP=1 -v batch="$BATCH" -v rooms="$ROOMS" <<'SQL' || die "setup failed"
INSERT INTO users (openid, nickname, avatar_url)
    SELECT 'pg-instr-' || g, 'user' || g, 'https://example.com/a/' || md5(g::text) || '.png'
    FROM generate_series(1, 10000) g;
INSERT INTO sessions (id, skey_hash, user_id, wx_session_key, expires_at)
    SELECT md5('s' || u.id), sha256(convert_to('k' || u.id, 'UTF8')), u.id, 'k', now() + interval '30 days'
    FROM users u WHERE u.openid LIKE 'pg-instr-%';
INSERT INTO rooms (name) SELECT 'pg-instr-' || r FROM generate_series(1, :rooms) r;
CREATE TABLE pg_instr_batch AS
    SELECT g, r.id AS room, u.id AS uid, sha256(convert_to('k' || u.id, 'UTF8')) AS hash
    FROM generate_series(0, :batch - 1) g
    JOIN rooms r ON r.name = 'pg-instr-' || (g % :rooms + 1)
    JOIN users u ON u.openid = 'pg-instr-' || (g % 100 + 1);
ANALYZE;
SQL
[ -z "$PREP" ] || psql "$URL" -Xq -v ON_ERROR_STOP=1 -f "$PREP" >/dev/null || die "$PREP failed"
batches 100000 100 | psql "$URL" -Xq -v ON_ERROR_STOP=1 >/dev/null || die "the history failed"
"$ROOT/tools/stack.sh" stop "$DIR/stack" >/dev/null 2>&1
DATA=$DIR/stack/pg/data

# count BATCHES: instructions of a single-user backend running BATCHES
# batches on a copy of the data directory.
count() {
    local copy=$DIR/data.$1 out=$DIR/callgrind.$1
    cp -a "$DATA" "$copy"
    touch "$out"   # callgrind, run as postgres, writes into it
    [ "$(id -u)" != 0 ] || chown postgres: "$out"
    batches 0 "$1" |
        as_pg valgrind --tool=callgrind --dump-instr=no --callgrind-out-file="$out" \
            "$PG_BIN/postgres" --single -D "$copy" -c synchronous_commit=off chat >"$DIR/backend.$1" 2>&1
    ! grep -q ERROR "$DIR/backend.$1" || die "the backend failed: $(grep -m1 ERROR "$DIR/backend.$1")"
    rm -rf "$copy"
    grep -oP '^summary: \K[0-9]+' "$out"
}

one=$(count "$N")
two=$(count $((4 * N)))
msgs=$((3 * N * BATCH))
echo "postgres: $(((two - one) / msgs)) instructions per message" \
    "(batches of $BATCH messages in $ROOMS rooms; runs of $N and $((4 * N)) batches${PREP:+; with $PREP})"
echo "costliest parts, run of $((4 * N)) batches (inclusive, per message; start-up included):"
callgrind_annotate --inclusive=yes "$DIR/callgrind.$((4 * N))" 2>/dev/null |
    awk -v n=$((4 * N * BATCH)) '$1 ~ /^[0-9,]+$/ {
        ir = $1; gsub(/,/, "", ir); fn = $0; sub(/^ *[0-9,]+ *\([ 0-9.%]*\) */, "", fn)
        sub(/ \[.*\]$/, "", fn); sub(/^\?\?\?:/, "", fn)
        if (fn ~ /^(ExecInsertIndexTuples|gininsert|btinsert|ginInsertCleanup|generate_trgm|heap_insert|AfterTriggerEndQuery|XLogInsert|SPI_execute_plan_extended)$/)
            printf "  %9d  %s\n", ir / n, fn
    }'
