#!/usr/bin/env bash
# instr.sh -- login-fcgi's instructions per login, counted by callgrind.
#
# The CPU time that `make bench` reports moves by up to a fifth with the
# host's speed from one run to the next, more than most single changes
# save. An instruction count does not: two runs of the same build agree
# within about 1 %. This starts a release stack in a temporary directory
# with login-fcgi (one loop) under valgrind --tool=callgrind, warms it up
# and runs N logins through nginx with the load generator (32 clients);
# then the same with 2N. The difference of the two counts, divided by N,
# is the instructions per login; the second run's profile gives the
# shares by library and the costliest functions. User space only: a
# system call counts as one instruction (strace -c counts those).
#
#   tools/instr.sh [N]     N logins (default 2000)
#   INSTR_KEEP=1           keep the directory and its callgrind files
#
# Needs valgrind (`apt-get install valgrind`; not part of make test) and a
# release build (`make && make build/release/tools/bench/loadgen`).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
N=${1:-2000}
WARMUP=300
REL=$ROOT/build/release
LOADGEN=$REL/tools/bench/loadgen

die() { echo "instr: $*" >&2; exit 1; }

for tool in valgrind callgrind_annotate jq; do
    command -v "$tool" >/dev/null || die "$tool is missing (apt-get install valgrind jq)"
done
[ -x "$REL/login-fcgi/login-fcgi" ] && [ -x "$LOADGEN" ] ||
    die "no release build: run make && make build/release/tools/bench/loadgen"

DIR=$(mktemp -d /tmp/chat-instr.XXXXXX)
chmod 755 "$DIR"
cleanup() {
    for stack in "$DIR"/stack-*; do
        [ -f "$stack/env" ] && "$ROOT/tools/stack.sh" stop "$stack" >/dev/null 2>&1
    done
    if [ "${INSTR_KEEP:-0}" = 1 ]; then echo "instr: kept $DIR" >&2; else rm -rf "$DIR"; fi
}
trap cleanup EXIT

# The stack's binaries, with login-fcgi started under callgrind; the
# output file comes from the environment of each run.
mkdir -p "$DIR/bin/login-fcgi"
ln -s "$REL/relay" "$DIR/bin/relay"
ln -s "$REL/tools" "$DIR/bin/tools"
printf '#!/bin/sh\nexec valgrind --tool=callgrind --dump-instr=no --callgrind-out-file="$CALLGRIND_OUT" "%s" "$@"\n' \
    "$REL/login-fcgi/login-fcgi" >"$DIR/bin/login-fcgi/login-fcgi"
chmod +x "$DIR/bin/login-fcgi/login-fcgi"

# logins PORT COUNT PREFIX: run them through nginx; prints "succeeded failed".
logins() {
    "$LOADGEN" login --label instr --addr "127.0.0.1:$1" --clients 32 --count "$2" \
        --duration 600 --prepare-timeout 120 --user-prefix "$3" 2>>"$DIR/loadgen.log" |
        jq -r '"\(.logins) \(.failed)"'
}

# run COUNT: a fresh stack, the warm-up and COUNT logins, then login-fcgi
# stopped, which is when callgrind writes its file, and the stack. Prints
# the count. (It runs in a subshell: cleanup() finds the stacks by name.)
# (Not callgrind_control dumps: in mid-run they put every cost on the
# thread's first function, since callgrind's call stack does not follow
# the workers' coroutine switches.)
run() {
    local count=$1 stack=$DIR/stack-$1 ok failed port
    CALLGRIND_OUT=$DIR/callgrind.$count LOGIN_THREADS=1 LOG_LEVEL=warn BIN_DIR="$DIR/bin" \
        "$ROOT/tools/stack.sh" start "$stack" >"$DIR/stack.log" 2>&1 ||
        { cat "$DIR/stack.log" >&2; die "the stack did not start"; }
    port=$(. "$stack/env" && echo "$PORT")
    read -r ok failed < <(logins "$port" "$WARMUP" "instr-warm-$count")
    [ "$failed" = 0 ] || die "warm-up: $failed of $WARMUP logins failed (see $DIR/loadgen.log)"
    read -r ok failed < <(logins "$port" "$count" "instr-$count")
    [ "$failed" = 0 ] && [ "$ok" = "$count" ] || die "$failed of $count logins failed"
    "$ROOT/tools/stack.sh" svc-stop "$stack" login >/dev/null 2>&1
    "$ROOT/tools/stack.sh" stop "$stack" >/dev/null 2>&1
    callgrind_annotate "$DIR/callgrind.$count" 2>/dev/null >"$DIR/annotate.$count"
    grep -m1 'PROGRAM TOTALS' "$DIR/annotate.$count" | awk '{gsub(/,/, "", $1); print $1}'
}

# Both runs pay the same start-up and warm-up: their difference is N logins.
one=$(run "$N")
two=$(run $((2 * N)))
profile=$DIR/annotate.$((2 * N))
echo "login-fcgi: $(((two - one) / N)) instructions per login" \
    "(user space; runs of $N and $((2 * N)) logins)"
echo "by library, in the run of $((2 * N)) (start-up and warm-up included; per login):"
awk -v n=$((2 * N)) '/\[.*\]$/ && $1 ~ /^[0-9,]+$/ {
        ir = $1; gsub(/,/, "", ir); lib = $NF; sub(/^\[/, "", lib); sub(/\]$/, "", lib)
        sub(/.*\//, "", lib); sum[lib] += ir
    } END { for (l in sum) if (sum[l] / n >= 500) printf "  %9d  %s\n", sum[l] / n, l }' \
    "$profile" | sort -rn
echo "costliest functions, same run (self, per login):"
awk -v n=$((2 * N)) '/\[.*\]$/ && $1 ~ /^[0-9,]+$/ && shown < 12 {
        ir = $1; gsub(/,/, "", ir); fn = $0; sub(/^ *[0-9,]+ *\([ 0-9.%]*\) */, "", fn)
        printf "  %9d  %s\n", ir / n, fn; shown++
    }' "$profile"
