#!/usr/bin/env bash
# Fuzzes every target (or the ones named) for a bounded time.
#   scripts/fuzz.sh libfuzzer SECONDS [target...]
#   scripts/fuzz.sh afl SECONDS [target...]
# Seeds come from fuzz/corpus/<target>/ and are never modified: each run works in a scratch
# directory under build/. Exits non-zero on any crash, leak, timeout or sanitizer report.
set -euo pipefail
cd "$(dirname "$0")/.."
engine=${1:?usage: fuzz.sh libfuzzer|afl SECONDS [target...]}
secs=${2:?usage: fuzz.sh libfuzzer|afl SECONDS [target...]}
shift 2
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    for f in fuzz/*_fuzz.c; do t=$(basename "$f" _fuzz.c); targets+=("$t"); done
fi

cmake --preset "$engine" >/dev/null
cmake --build --preset "$engine"
bdir=build/$engine
fails=0
for t in "${targets[@]}"; do
    bin=$bdir/${t}_fuzz
    seeds=fuzz/corpus/$t
    work=$bdir/work/$t
    rm -rf "$work"; mkdir -p "$work/corpus" "$work/artifacts"
    dict=()
    if [ "$engine" = libfuzzer ]; then
        [ -f "fuzz/$t.dict" ] && dict=(-dict="fuzz/$t.dict")
        echo "--- libFuzzer $t (${secs}s)"
        if ! "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
                "${dict[@]}" -artifact_prefix="$work/artifacts/" "$work/corpus" "$seeds" \
                >"$work/log" 2>&1; then
            echo "FAIL: $t"; tail -60 "$work/log"; fails=$((fails + 1))
        else
            grep -E '^stat::(number_of_executed_units|new_units_added)|^Done' "$work/log" || true
        fi
    else
        [ -f "fuzz/$t.dict" ] && dict=(-x "fuzz/$t.dict")
        echo "--- AFL++ $t (${secs}s)"
        # The CI sandbox cannot tune core_pattern or CPU frequency; AFL++ works without.
        # afl-fuzz insists on abort_on_error=1 so that a sanitizer report is seen as a crash.
        if ! ASAN_OPTIONS=abort_on_error=1:detect_leaks=1:symbolize=0 \
                UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:symbolize=0 \
                AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_SKIP_CPUFREQ=1 AFL_NO_UI=1 \
                AFL_NO_AFFINITY=1 AFL_BENCH_UNTIL_CRASH=1 \
                timeout -k 5 $((secs + 30)) afl-fuzz -V "$secs" -i "$seeds" -o "$work/out" \
                "${dict[@]}" -- "$bin" >"$work/log" 2>&1; then
            echo "FAIL: afl-fuzz $t did not run cleanly"; tail -40 "$work/log"; fails=$((fails + 1))
            continue
        fi
        crashes=$(find "$work/out" -path '*crashes/id*' | wc -l)
        execs=$(grep -h '^execs_done' "$work"/out/*/fuzzer_stats 2>/dev/null | awk '{print $3}' | head -1)
        echo "execs_done: ${execs:-?}  crashes: $crashes"
        if [ "$crashes" -ne 0 ]; then
            echo "FAIL: $t has $crashes crashing inputs in $work/out"; fails=$((fails + 1))
        fi
    fi
done
if [ "$fails" -ne 0 ]; then
    echo "fuzz ($engine): $fails target(s) failed"
    exit 1
fi
echo "fuzz ($engine): ${#targets[@]} target(s) clean"
