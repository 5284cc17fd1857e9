#!/usr/bin/env bash
#   Run every libFuzzer target of a build for a while.
#
#   usage: tests/fuzz/run.sh BUILD_DIR SECONDS
#
#   Each BUILD_DIR/tests/fuzz/fuzz_* runs for SECONDS (-max_total_time) on
#   a scratch copy of its seed corpus tests/fuzz/corpus/<target>/ plus the
#   inputs of past failures in tests/fuzz/regressions/<target>/ (so the
#   repository is never modified), with tests/fuzz/<target>.dict when there
#   is one. Any crash, sanitizer report (ASan, UBSan), leak, timeout or
#   out-of-memory fails the target; its input is kept in
#   BUILD_DIR/tests/fuzz/artifacts/<target>/ and its output in
#   BUILD_DIR/tests/fuzz/logs/<target>.log. Exits non-zero if any target
#   failed. Ends with one line per target: seconds, executions, result.
#
#   Environment:
#     STRATA_FUZZ_MALLOC_LIMIT_MB   cap on one allocation (default 512)
#     STRATA_FUZZ_TARGETS           only these targets (space-separated)
#   The scratch directory (corpus copies, and $TMPDIR of the targets, which
#   keep their scratch files there) is on /dev/shm when it is writable:
#   fuzz_recovery_scan syncs SQLite files on every input.
set -euo pipefail

if [ $# -ne 2 ] || ! [[ "$2" =~ ^[0-9]+$ ]]; then
    echo "usage: $0 BUILD_DIR SECONDS" >&2
    exit 2
fi
build_dir=$(cd "$1" && pwd)
seconds=$2
source_dir=$(cd "$(dirname "$0")" && pwd)
fuzz_dir="$build_dir/tests/fuzz"
malloc_limit=${STRATA_FUZZ_MALLOC_LIMIT_MB:-512}

scratch_base=${TMPDIR:-/tmp}
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
    scratch_base=/dev/shm
fi
scratch=$(mktemp -d "$scratch_base/strata-fuzz.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/tmp" "$fuzz_dir/logs"
#   Leaks and UBSan reports fail the run (both are on by default in a
#   libFuzzer build; said here so a caller's environment cannot weaken it)
export ASAN_OPTIONS="detect_leaks=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"

found=0
failed=()
summary=()
for binary in "$fuzz_dir"/fuzz_*; do
    [ -f "$binary" ] && [ -x "$binary" ] || continue
    target=$(basename "$binary")
    if [ -n "${STRATA_FUZZ_TARGETS:-}" ] && ! [[ " $STRATA_FUZZ_TARGETS " == *" $target "* ]]; then
        continue
    fi
    found=$((found + 1))
    corpus="$scratch/corpus/$target"
    artifacts="$fuzz_dir/artifacts/$target"
    log="$fuzz_dir/logs/$target.log"
    mkdir -p "$corpus" "$artifacts"
    for seeds in "$source_dir/corpus/$target" "$source_dir/regressions/$target"; do
        if [ -d "$seeds" ]; then
            cp -R "$seeds/." "$corpus/"
        fi
    done
    options=(-max_total_time="$seconds" -malloc_limit_mb="$malloc_limit"
             -timeout=10 -print_final_stats=1 -artifact_prefix="$artifacts/")
    if [ -f "$source_dir/$target.dict" ]; then
        options+=(-dict="$source_dir/$target.dict")
    fi
    echo "== $target: ${seconds}s, seed corpus $(ls "$corpus" | wc -l) inputs"
    started=$(date +%s)
    if TMPDIR="$scratch/tmp" "$binary" "${options[@]}" "$corpus" > "$log" 2>&1; then
        result=ok
    else
        result=FAILED
        failed+=("$target")
        #   The report: from the first sanitizer or fuzzer error line on
        grep -n -m1 -E "ERROR|runtime error|SUMMARY|fuzz_[a-z_]+: " "$log" >&2 || true
        tail -n 40 "$log" >&2
        echo "== $target: FAILED (input kept in $artifacts, output in $log)" >&2
    fi
    elapsed=$(( $(date +%s) - started ))
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    echo "== $target: $result after ${elapsed}s, ${runs:-?} executions"
    summary+=("$(printf '%-22s %5ss %10s executions  %s' "$target" "$elapsed" "${runs:-?}" "$result")")
done

if [ "$found" -eq 0 ]; then
    echo "no fuzz_* binaries in $fuzz_dir (configure with CC=clang -DSTRATA_FUZZ=ON)" >&2
    exit 1
fi
printf '%s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
    echo "failed: ${failed[*]}" >&2
    exit 1
fi
echo "all $found fuzz targets ran ${seconds}s without a failure"
