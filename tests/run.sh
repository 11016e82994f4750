#!/usr/bin/env bash
# run.sh -- run every test suite and print one closing line "N passed, N failed".
#
# 1. C unit tests (cmocka, ASan+UBSan build): build/asan/tests/unit/*/test_*,
#    each stopped and failed after UNIT_TIMEOUT seconds (default 120), then each libFuzzer target for TEST_FUZZ_SECONDS (default 10; 0 skips).
# 2. A stack of the real system (tools/stack.sh: private PostgreSQL, the
#    WeChat stand-in, ASan builds of login-fcgi and the relay, nginx) on free
#    loopback ports, then the Node suites against it: tests/integration/ and
#    tests/client/ (node --test, one file at a time). Then a stack of the
#    release builds, for the smoke, login and chat suites.
# 3. The sanitizer logs of the programs: every report counts as a failure.
#
# Options (environment): TEST_FILTER=regex runs only the Node test files whose
# path matches; KEEP_STACK=1 leaves the stack's directory for inspection.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

passed=0 failed=0
count() { passed=$((passed + $1)); failed=$((failed + $2)); }

# --- 1. unit tests ---------------------------------------------------------------
for t in build/asan/tests/unit/*/test_*; do
    [ -x "$t" ] || continue
    out=$(timeout "${UNIT_TIMEOUT:-120}" "$t" 2>&1); rc=$?
    [ "$rc" = 124 ] && out+=$'\n'"unit: $(basename "$t") did not finish in ${UNIT_TIMEOUT:-120} s"
    p=$(grep -oE '\[  PASSED  \] [0-9]+' <<<"$out" | grep -oE '[0-9]+$' | tail -1)
    f=$(grep -oE '\[  FAILED  \] [0-9]+' <<<"$out" | grep -oE '[0-9]+$' | tail -1)
    p=${p:-0} f=${f:-0}
    if [ "$rc" != 0 ] && [ "$f" = 0 ]; then f=1; fi   # crashed or sanitizer abort
    [ "$f" != 0 ] && echo "$out"
    echo "unit: $(basename "$t"): $p passed, $f failed"
    count "$p" "$f"
done

# --- 1b. fuzz targets, briefly (make fuzz runs them longer) --------------------
if [ "${TEST_FUZZ_SECONDS:-10}" != 0 ]; then
    out=$(tools/fuzz.sh "${TEST_FUZZ_SECONDS:-10}" 2>&1)
    echo "$out"
    p=$(grep -oE '^fuzz: [0-9]+ passed' <<<"$out" | grep -oE '[0-9]+' | tail -1)
    f=$(grep -oE '[0-9]+ failed' <<<"$out" | grep -oE '[0-9]+' | tail -1)
    count "${p:-0}" "${f:-1}"
fi

# --- 2. the system ---------------------------------------------------------------
STACK=$(mktemp -d /tmp/chat-test.XXXXXX)
RELEASE_STACK=$(mktemp -d /tmp/chat-test-release.XXXXXX)
chmod 755 "$STACK" "$RELEASE_STACK"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:log_path=$STACK/sanitizer:exitcode=23"
export UBSAN_OPTIONS="print_stacktrace=1:log_path=$STACK/sanitizer"
cleanup() {
    for s in "$STACK" "$RELEASE_STACK"; do
        tools/stack.sh stop "$s" >/dev/null 2>&1
        [ "${KEEP_STACK:-0}" = 1 ] && echo "stack kept in $s" || rm -rf "$s"
    done
}
trap cleanup EXIT

# node_suites DIR BIN_DIR LABEL FILE...: start a stack of BIN_DIR's programs
# in DIR, run the Node test files against it, count the results, stop it.
node_suites() {
    local dir=$1 bin=$2 label=$3 out rc p f
    shift 3
    [ $# -gt 0 ] || return 0
    if ! BIN_DIR=$bin RELAYS=2 PG_TEST_SETTINGS=1 tools/stack.sh start "$dir" >"$dir/start.log" 2>&1; then
        echo "stack ($label): failed to start"; cat "$dir/start.log"; tail -n 30 "$dir"/log/*.log 2>/dev/null
        count 0 1
        return
    fi
    echo "stack ($label): up ($(grep -o "BASE_URL='[^']*'" "$dir/env"))"
    out=$(STACK_DIR="$dir" node --test --test-concurrency=1 --test-reporter=tap "$@" 2>&1); rc=$?
    p=$(grep -E '^# pass [0-9]+' <<<"$out" | grep -oE '[0-9]+' | tail -1)
    f=$(grep -E '^# fail [0-9]+' <<<"$out" | grep -oE '[0-9]+' | tail -1)
    p=${p:-0} f=${f:-0}
    if [ "$rc" != 0 ] && [ "$f" = 0 ]; then f=1; fi
    grep -E '^(not )?ok |^# (Subtest|pass|fail)|^    ---|error|expected|actual|at .*test\.js' <<<"$out" |
        grep -vE '^# Subtest' | head -400
    echo "node ($label): $# files: $p passed, $f failed"
    count "$p" "$f"
    tools/stack.sh stop "$dir" >/dev/null 2>&1
}

# Every suite on the sanitizer builds; then the release builds (what `make
# run` and `make bench` start: optimised, linked with tcmalloc) through
# the smoke, login and chat suites.
mapfile -t files < <(ls tests/integration/*.test.js tests/client/*.test.js 2>/dev/null |
                     grep -E "${TEST_FILTER:-.}")
node_suites "$STACK" build/asan asan "${files[@]}"
mapfile -t files < <(ls tests/integration/{relay_smoke,login,relay_chat}.test.js |
                     grep -E "${TEST_FILTER:-.}")
node_suites "$RELEASE_STACK" build/release release "${files[@]}"

# --- 3. sanitizer reports of the running programs --------------------------------
reports=$(ls "$STACK"/sanitizer.* 2>/dev/null | wc -l)
if [ "$reports" -gt 0 ]; then
    for r in "$STACK"/sanitizer.*; do echo "== $r"; head -60 "$r"; done
    echo "sanitizers: $reports report(s) from the running programs"
    count 0 "$reports"
else
    echo "sanitizers: no reports from the running programs"
    count 1 0
fi
if [ "$failed" != 0 ]; then
    for l in "$STACK"/log/*.log "$RELEASE_STACK"/log/*.log; do [ -f "$l" ] && { echo "== $l"; tail -n 40 "$l"; }; done
fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
