#!/usr/bin/env bash
# bench.sh -- `make bench`: start a fresh stack with the release build, run
# the five scenarios of issue 7 with tools/bench/loadgen, and write
# bench/results.json and bench/results.md. Loopback only, bounded in time
# (about 2 minutes on 2 cores, BENCH_BUDGET at most), and the stack is stopped even when
# interrupted. See docs/bench.md. `tools/bench.sh --render` runs nothing: it
# writes results.md (and the README's table, for bench/) again from
# BENCH_OUT's results.json, after a change to tools/bench/results-table.jq.
#
# Environment (all optional):
#   BENCH_OUT       where results go (default bench/ in the repository)
#   BENCH_KEEP=1    keep the stack's directory (logs) after the run
#   BENCH_ONLY      scenarios to run, e.g. "a c" (default "a b c d e e_nosearch bare";
#                   e_nosearch is (e) without the search index, bare is (a)
#                   against tools/bare-relay, the machine's ceiling for it)
#   BIN_DIR         programs to measure (default build/release)
#   LOADGEN         the load generator (default build/release/tools/bench/loadgen)
#   BARE            the bare broadcaster (default build/release/tools/bare-relay/bare-relay)
#   A_FLUSH_MS      its flush interval (default 30, the relay's default)
#   BENCH_BUDGET    seconds the whole run may take (default 290)
#   BENCH_RUNS      runs of (d), (e) and e_nosearch, whose median is reported (default 3)
#   A_STEPS, A_RATE, B_STEPS, B_RATE, C_CONNS, D_COUNT, E_CONNS, E_ROOMS, E_WINDOW,
#   STEP_SECONDS    scenario sizes (defaults below)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN_DIR=${BIN_DIR:-$ROOT/build/release}
LOADGEN=${LOADGEN:-$ROOT/build/release/tools/bench/loadgen}
BARE=${BARE:-$ROOT/build/release/tools/bare-relay/bare-relay}
OUT=${BENCH_OUT:-$ROOT/bench}
ONLY=${BENCH_ONLY:-a b c d e e_nosearch bare}

A_STEPS=${A_STEPS:-1,5,10,20,50,100,150,200,300,500}  # senders in the 1,000-client room
A_RATE=${A_RATE:-10}                                # messages/s per sender
B_STEPS=${B_STEPS:-10,50,100,200,500,1000}                # senders over 100 rooms of 10
B_RATE=${B_RATE:-10}
C_CONNS=${C_CONNS:-10000}                           # idle connections
D_COUNT=${D_COUNT:-40000}                           # logins prepared (codes fetched)
E_CONNS=${E_CONNS:-100} E_ROOMS=${E_ROOMS:-10} E_WINDOW=${E_WINDOW:-16}
STEP_SECONDS=${STEP_SECONDS:-4}
BENCH_RUNS=${BENCH_RUNS:-3}                         # runs of d, e and e_nosearch (median reported)

# The benchmark measures capacity, not policy: the per-connection rate limit
# is raised so that senders (10 msg/s each in a, b) and the closed loop of e
# are never throttled. Everything else (fsync, synchronous_commit, history,
# queues) keeps its default.
export RELAY_RATE=${RELAY_RATE:-100000} RELAY_RATE_BURST=${RELAY_RATE_BURST:-100000}
export RELAY_ABUSE_LIMIT=${RELAY_ABUSE_LIMIT:-1000000}
export LOG_LEVEL=${LOG_LEVEL:-warn}

die() { echo "bench: $*" >&2; exit 1; }
say() { echo "bench: $*" >&2; }

# results.md from results.json; the published run (the default output) also
# goes into README.md, between the bench markers.
publish_table() {
    [ -f "$OUT/results.json" ] || die "no $OUT/results.json"
    jq -r -f "$ROOT/tools/bench/results-table.jq" "$OUT/results.json" >"$OUT/results.md"
    cat "$OUT/results.md"
    if [ "$OUT" = "$ROOT/bench" ] && grep -q '<!-- bench:start -->' "$ROOT/README.md"; then
        awk -v table="$OUT/results.md" '
            /<!-- bench:start -->/ { print; while ((getline line < table) > 0) if (line !~ /^# /) print line; skip = 1; next }
            /<!-- bench:end -->/ { skip = 0 }
            !skip { print }' "$ROOT/README.md" >"$ROOT/README.md.tmp" && mv "$ROOT/README.md.tmp" "$ROOT/README.md"
    fi
    say "results in $OUT/results.json and $OUT/results.md"
}
if [ "${1:-}" = --render ]; then
    publish_table
    exit 0
fi

[ -x "$LOADGEN" ] || die "no $LOADGEN: run make bench"
want() { case " $ONLY " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
if want a || want b || want c || want e || want e_nosearch; then
    [ -x "$BIN_DIR/relay/relay" ] || die "no relay in $BIN_DIR: run make"
fi
[ -x "$BIN_DIR/login-fcgi/login-fcgi" ] || die "no login-fcgi in $BIN_DIR: run make"
if want bare; then [ -x "$BARE" ] || die "no $BARE: run make bench"; fi
"$LOADGEN" selftest || die "the load generator failed its self-test"

# Enough descriptors for the idle scenario (client side; the relay inherits).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((C_CONNS + 512)) ]; then
    C_CONNS=$(($(ulimit -n) - 512))
    say "open-file limit $(ulimit -n): idle scenario reduced to $C_CONNS connections"
fi

LOADAVG_START=$(cut -d' ' -f1-3 /proc/loadavg)
BENCH_START=$SECONDS
BENCH_BUDGET=${BENCH_BUDGET:-290}
DIR=$(mktemp -d /tmp/chat-bench.XXXXXX)
RUN=$DIR/results
mkdir -p "$RUN"
LG_PID=
BARE_PID=

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    [ -n "$LG_PID" ] && kill "$LG_PID" 2>/dev/null || true
    [ -n "$BARE_PID" ] && kill "$BARE_PID" 2>/dev/null || true
    [ -f "$DIR/env" ] && "$ROOT/tools/stack.sh" stop "$DIR" || true
    if [ "${BENCH_KEEP:-0}" = 1 ]; then say "stack directory kept: $DIR"; else rm -rf "$DIR"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'say interrupted; exit 130' INT TERM

# lg NAME SECONDS ARGS...: run the load generator in the background (so a
# signal interrupts the wait), bounded by `timeout`; JSON to $RUN/NAME.json.
# Each run is also cut to what is left of the BENCH_BUDGET seconds of the
# whole benchmark (15 s kept for stopping the stack); a scenario that would
# start with less than 10 s left is skipped.
lg() {
    local name=$1 limit=$2 left
    shift 2
    left=$((BENCH_BUDGET - 15 - (SECONDS - BENCH_START)))
    if [ "$left" -lt 10 ]; then
        say "scenario $name skipped: the ${BENCH_BUDGET}s time budget is spent"
        echo '{"error":"skipped: time budget spent"}' >"$RUN/$name.json"
        return 0
    fi
    [ "$limit" -le "$left" ] || limit=$left
    timeout --signal=INT --kill-after=5 "$limit" "$LOADGEN" "$@" >"$RUN/$name.json" &
    LG_PID=$!
    local rc=0
    wait "$LG_PID" || rc=$?
    LG_PID=
    [ "$rc" = 0 ] || say "scenario $name: loadgen exited with $rc"
    [ -s "$RUN/$name.json" ] || echo '{"error":"no result"}' >"$RUN/$name.json"
}

# median_run NAME KEY: from $RUN/NAME1.json .. NAME$BENCH_RUNS.json, write
# $RUN/NAME.json: the run with the median KEY (a jq path), plus "runs" (KEY
# of every run that produced it, in run order) and the totals over all runs
# of what must stay zero or be counted (loss, duplicates, failures, logins).
median_run() {
    local name=$1 key=$2 files=()
    for i in $(seq "$BENCH_RUNS"); do files+=("$RUN/$name$i.json"); done
    jq -s '
        [.[] | select(.error == null)] as $ok |
        if ($ok | length) == 0 then .[0] else
        ($ok | map(. as $r | {r: $r, v: ($r | '"$key"')}) | sort_by(.v)) as $s |
        $s[(($s | length) - 1) / 2 | floor].r + {
            runs: [$ok[] | '"$key"'],
            lost_total: ([$ok[].lost_total // 0] | add),
            duplicated_total: ([$ok[].duplicated_total // 0] | add),
            failed: (if $ok[0].failed == null then null else [$ok[].failed] | add end),
            conns: (if $ok[0].conns == null then null else [$ok[].conns] | add end),
            logins_total: (if $ok[0].logins == null then null else [$ok[].logins] | add end)}
        end' "${files[@]}" >"$RUN/$name.json"
}

# sessions N FILE: N users with a session each, made in SQL (admin role),
# written as "id skey" lines.
make_sessions() {
    psql "$ADMIN_DATABASE_URL" -XqtA -F ' ' -v ON_ERROR_STOP=1 -v n="$1" >"$2" <<'SQL'
CREATE TEMP TABLE b AS
    SELECT g, md5(random()::text || g) AS sid, md5(random()::text) || md5(random()::text) AS skey
    FROM generate_series(1, :n) g;
INSERT INTO users (openid, nickname) SELECT 'bench-sql-' || g, 'bench' || g FROM b
    ON CONFLICT (openid) DO NOTHING;
INSERT INTO sessions (id, skey_hash, user_id, wx_session_key, expires_at)
    SELECT b.sid, sha256(convert_to(b.skey, 'UTF8')), u.id, 'bench', now() + interval '2 hours'
    FROM b JOIN users u ON u.openid = 'bench-sql-' || b.g;
SELECT sid, skey FROM b ORDER BY g;
SQL
}

# --- the stack -----------------------------------------------------------------
say "starting the stack (release build, fsync on) in $DIR"
BIN_DIR=$BIN_DIR "$ROOT/tools/stack.sh" start "$DIR" >"$DIR/stack-start.log" 2>&1 ||
    { cat "$DIR/stack-start.log" >&2; die "the stack did not start"; }
# shellcheck disable=SC1091
. "$DIR/env"
RELAY_PID=$(cat "$DIR/pid/relay1.pid" 2>/dev/null || echo 0)
# The programs whose CPU the load generator reports per login (d) or per
# message (a, e): each is a PID and its children (--cpu NAME=PID).
D_CPU=() A_CPU=() E_CPU=()
add_cpu() { # add_cpu ARRAY NAME PID: skipped when PID is unknown
    [ -n "$3" ] && [ "$3" != 0 ] || return 0
    eval "$1+=(--cpu \"\$2=\$3\")"
}
PG_PID=$(head -n 1 "$DIR/pg/data/postmaster.pid" 2>/dev/null || true)
for p in login:login-fcgi standin:stand-in nginx:nginx; do
    add_cpu D_CPU "${p#*:}" "$(cat "$DIR/pid/${p%%:*}.pid" 2>/dev/null || true)"
done
add_cpu D_CPU postgres "$PG_PID"
add_cpu A_CPU relay "$RELAY_PID"
add_cpu A_CPU nginx "$(cat "$DIR/pid/nginx.pid" 2>/dev/null || true)"
add_cpu A_CPU postgres "$PG_PID"
add_cpu E_CPU relay "$RELAY_PID"
add_cpu E_CPU postgres "$PG_PID"
RELAY_ADDR=127.0.0.1:${RELAY_PORTS%% *}
NGINX_ADDR=127.0.0.1:$PORT
NSESS=$((C_CONNS > 2000 + E_CONNS ? C_CONNS : 2000 + E_CONNS))
make_sessions "$NSESS" "$DIR/sessions.all"
head -n 1000 "$DIR/sessions.all" >"$DIR/sessions.a"
sed -n '1001,2000p' "$DIR/sessions.all" >"$DIR/sessions.b"
sed -n "2001,$((2000 + E_CONNS))p" "$DIR/sessions.all" >"$DIR/sessions.e"
say "$NSESS sessions created in SQL"

# --- scenarios -------------------------------------------------------------------
# (c) first, on a relay that has not served load yet, so RSS growth is its own.
if want c; then
    say "(c) $C_CONNS idle connections straight to the relay"
    lg c 150 chat --label c --addr "$RELAY_ADDR" --sessions "$DIR/sessions.all" \
        --conns "$C_CONNS" --rooms 100 --room-prefix bench-c --hold-seconds 3 \
        --connect-timeout 75 --relay-pid "$RELAY_PID" --rbuf 4096
fi
if want a; then
    say "(a) one room, 1,000 clients through nginx, senders $A_STEPS at $A_RATE msg/s"
    lg a 150 chat --label a --addr "$NGINX_ADDR" --sessions "$DIR/sessions.a" --conns 1000 \
        --rooms 1 --room-prefix bench-a --steps "$A_STEPS" --rate "$A_RATE" \
        --step-seconds "$STEP_SECONDS" --drain-seconds 2 --p99-limit-ms 100 --min-ratio 0.99 \
        --relay-pid "$RELAY_PID" ${A_CPU[@]+"${A_CPU[@]}"}
fi
if want b; then
    say "(b) 100 rooms of 10 clients through nginx, senders $B_STEPS at $B_RATE msg/s"
    lg b 120 chat --label b --addr "$NGINX_ADDR" --sessions "$DIR/sessions.b" --conns 1000 \
        --rooms 100 --room-prefix bench-b --steps "$B_STEPS" --rate "$B_RATE" \
        --step-seconds "$STEP_SECONDS" --drain-seconds 2 --p99-limit-ms 100 --min-ratio 0.99 \
        --relay-pid "$RELAY_PID"
fi
# e_runs NAME PREFIX: BENCH_RUNS closed-loop runs of (e) into rooms PREFIX1..,
# their median as NAME, and what PostgreSQL holds for those rooms: rows, and
# whether each room's ids are 1..last_seq.
e_runs() {
    local name=$1 prefix=$2
    for i in $(seq "$BENCH_RUNS"); do
        lg "$name$i" 60 chat --label "$name" --addr "$RELAY_ADDR" --sessions "$DIR/sessions.e" \
            --conns "$E_CONNS" --rooms "$E_ROOMS" --room-prefix "$prefix$i" --steps "$E_CONNS" \
            --rate 0 --window "$E_WINDOW" --step-seconds 8 --drain-seconds 3 \
            --p99-limit-ms 1000000 --min-ratio 0.99 --relay-pid "$RELAY_PID" ${E_CPU[@]+"${E_CPU[@]}"}
    done
    median_run "$name" '.steps[0].messages_per_s'
    psql "$ADMIN_DATABASE_URL" -XqtA -v ON_ERROR_STOP=1 -v pattern="$prefix%" >"$RUN/$name-sql.json" <<'SQL'
SELECT json_build_object(
    'rooms', count(*),
    'rows', coalesce(sum(n), 0),
    'gap_free', coalesce(bool_and(n = last_seq AND distinct_seq = n AND lo = 1 AND hi = last_seq), false))
FROM (SELECT r.last_seq, count(m.seq) AS n, count(DISTINCT m.seq) AS distinct_seq,
             min(m.seq) AS lo, max(m.seq) AS hi
      FROM rooms r LEFT JOIN messages m ON m.room_id = r.id
      WHERE r.name LIKE :'pattern' GROUP BY r.id) per_room;
SQL
}
if want e; then
    say "(e) publish throughput: $E_CONNS senders in $E_ROOMS rooms, window $E_WINDOW, $BENCH_RUNS runs"
    e_runs e bench-e
fi
if want d; then
    say "(d) logins through nginx, 32 clients, $BENCH_RUNS runs"
    for i in $(seq "$BENCH_RUNS"); do
        lg "d$i" 120 login --label d --addr "$NGINX_ADDR" --clients 32 --count "$D_COUNT" \
            --duration 10 --prepare-timeout 30 --user-prefix "bench-login-$i" ${D_CPU[@]+"${D_CPU[@]}"}
    done
    median_run d '.logins_per_s'
    psql "$ADMIN_DATABASE_URL" -XqtA -c \
        "SELECT json_build_object('sessions', count(*)) FROM sessions s JOIN users u ON u.id = s.user_id
         WHERE u.openid NOT LIKE 'bench-sql-%'" >"$RUN/d-sql.json"
fi
# (e) again without issue #6's text search, dropped from this throwaway
# database (the triggers that write message_search and its trigram index):
# what the search costs every message (docs/bench.md, "(e) Publish
# throughput"). After (e) and (d), which keep it.
if want e_nosearch; then
    say "(e, no search index) the same without the search blocks and their index, $BENCH_RUNS runs"
    psql "$ADMIN_DATABASE_URL" -Xq -v ON_ERROR_STOP=1 \
        -c 'DROP TRIGGER messages_search_insert ON messages' \
        -c 'DROP TRIGGER messages_search_update ON messages' \
        -c 'DROP INDEX message_search_body_idx'
    e_runs e_nosearch bench-f
fi
# (a) again with bare-relay in the relay's place (same nginx, same room and
# steps): a broadcaster that stores nothing and checks no session, so what
# it reaches is what this machine allows through nginx. Last, since it stops
# the relay.
if want bare; then
    say "(a, bare) the same room against tools/bare-relay, senders $A_STEPS at $A_RATE msg/s"
    bare_listen=$RELAY_ADDR # where nginx reaches relay 1: its socket, or its port
    [ -z "${RELAY_SOCKETS:-}" ] || bare_listen=unix:${RELAY_SOCKETS%% *}
    "$ROOT/tools/stack.sh" svc-stop "$DIR" relay1
    "$BARE" "$bare_listen" "${A_FLUSH_MS:-30}" 2>"$DIR/bare-relay.log" &
    BARE_PID=$!
    sleep 0.5
    kill -0 "$BARE_PID" 2>/dev/null || { cat "$DIR/bare-relay.log" >&2; die "bare-relay did not start"; }
    lg bare 150 chat --label bare --addr "$NGINX_ADDR" --sessions "$DIR/sessions.a" --conns 1000 \
        --rooms 1 --room-prefix bench-bare --steps "$A_STEPS" --rate "$A_RATE" \
        --step-seconds "$STEP_SECONDS" --drain-seconds 2 --p99-limit-ms 100 --min-ratio 0.99 \
        --relay-pid "$BARE_PID" --cpu bare-relay="$BARE_PID" \
        --cpu nginx="$(cat "$DIR/pid/nginx.pid" 2>/dev/null || echo 0)"
    kill "$BARE_PID" 2>/dev/null || true
    wait "$BARE_PID" 2>/dev/null || true
    BARE_PID=
fi

# --- results ---------------------------------------------------------------------
# The commit measured, with "+uncommitted" when the programs' sources differ
# from it (make bench builds the working tree).
commit_label() {
    local c
    c=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null) || { echo unknown; return; }
    if [ -n "$(git -C "$ROOT" status --porcelain -- relay login-fcgi shared sql nginx.conf 2>/dev/null)" ]; then
        c="$c+uncommitted"
    fi
    echo "$c"
}

mkdir -p "$OUT"
for s in a b c d e e_nosearch bare e-sql e_nosearch-sql d-sql; do
    [ -f "$RUN/$s.json" ] || echo null >"$RUN/$s.json"
done
CPU_MODEL=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
jq -n --arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --arg cpu "$CPU_MODEL" \
    --argjson cores "$(nproc)" --arg kernel "$(uname -r)" \
    --arg commit "$(commit_label)" \
    --arg relay_rate "$RELAY_RATE" --arg loadavg "$LOADAVG_START" \
    --slurpfile a "$RUN/a.json" --slurpfile b "$RUN/b.json" --slurpfile c "$RUN/c.json" \
    --slurpfile d "$RUN/d.json" --slurpfile e "$RUN/e.json" --slurpfile bare "$RUN/bare.json" \
    --slurpfile esql "$RUN/e-sql.json" --slurpfile dsql "$RUN/d-sql.json" \
    --slurpfile en "$RUN/e_nosearch.json" --slurpfile ensql "$RUN/e_nosearch-sql.json" '{
      date: $date, commit: $commit,
      machine: {cores: $cores, cpu_model: $cpu, kernel: $kernel, loadavg_at_start: $loadavg},
      settings: {fsync: "on", synchronous_commit: "on", relay_rate: $relay_rate,
                 transport: "loopback", build: "release"},
      scenarios: {a: $a[0], b: $b[0], c: $c[0], d: ($d[0] + {database: $dsql[0]}),
                  e: ($e[0] + {database: $esql[0]}), e_nosearch: ($en[0] + {database: $ensql[0]}),
                  bare: $bare[0]}
    }' >"$OUT/results.json"
publish_table
