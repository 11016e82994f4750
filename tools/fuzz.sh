#!/usr/bin/env bash
# fuzz.sh [SECONDS] -- build the libFuzzer targets (clang, ASan, UBSan) and
# run each one: first over its kept crash regressions
# (tests/fuzz/regressions/<target>/), then fuzzing for SECONDS (default 60)
# from its seed corpus (tests/fuzz/corpus/<target>/; new inputs collect in
# build/fuzz/corpus/<target>/, crashes in build/fuzz/crashes/).
#
# `make fuzz` runs it with FUZZ_SECONDS (default 60); `make test` briefly.
# Ends with "fuzz: N passed, N failed" (one per target). A crash found here
# is fixed in the code and its input copied into the target's regressions.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
secs=${1:-60}

if ! make -s BUILD=fuzz fuzz-targets >build-fuzz.log 2>&1; then
    cat build-fuzz.log; rm -f build-fuzz.log
    echo "fuzz: 0 passed, 1 failed (build)"; exit 1
fi
rm -f build-fuzz.log
passed=0 failed=0
mkdir -p build/fuzz/crashes
for t in build/fuzz/tests/fuzz/fuzz_*; do
    [ -x "$t" ] || continue
    name=$(basename "$t")
    work=build/fuzz/corpus/$name
    mkdir -p "$work"
    ok=1
    regressions=(tests/fuzz/regressions/"$name"/*)
    if [ -e "${regressions[0]}" ]; then
        "$t" -runs=1 "${regressions[@]}" >"build/fuzz/$name.regress.log" 2>&1 ||
            { ok=0; echo "fuzz: $name fails on a kept regression input:"; tail -30 "build/fuzz/$name.regress.log"; }
    fi
    if [ $ok = 1 ]; then
        "$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
            -artifact_prefix="build/fuzz/crashes/$name-" "$work" "tests/fuzz/corpus/$name" \
            >"build/fuzz/$name.log" 2>&1 ||
            { ok=0; echo "fuzz: $name crashed:"; grep -a -A25 -E '^==[0-9]+==|runtime error|deadly signal' "build/fuzz/$name.log" | head -40; }
    fi
    if [ $ok = 1 ]; then
        runs=$(grep -aoE 'stat::number_of_executed_units: [0-9]+|#[0-9]+[[:space:]]*DONE' "build/fuzz/$name.log" | grep -oE '[0-9]+' | head -1)
        echo "fuzz: $name: ok${runs:+ ($runs runs)}"
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
    fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" = 0 ]
