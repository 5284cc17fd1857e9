#!/usr/bin/env bash
#   Run every Criterion unit test binary under valgrind memcheck (make
#   valgrind).
#
#   usage: tests/valgrind.sh BUILD_DIR [JOBS]
#
#   BUILD_DIR is a build without sanitizers (make valgrind uses build-vg,
#   RelWithDebInfo). Each BUILD_DIR/tests/test_* runs with --jobs 1 under
#
#       valgrind --tool=memcheck --leak-check=full
#                --errors-for-leak-kinds=definite --trace-children=yes
#
#   Criterion runs every test in a worker process it starts by exec'ing the
#   test binary again, so --trace-children=yes puts each worker under
#   memcheck, and its leak check runs when that test's process exits: a
#   leak in the tested code is reported against the test that caused it.
#   A worker's exit code does not reach Criterion's verdict, so
#   --error-exitcode is not enough: every process writes its own log
#   (--log-file=.../<binary>.<pid>.log) and the run fails if any log's
#   ERROR SUMMARY counts an error (invalid read or write, use of
#   uninitialised memory, bad free, definite leak), or if a test fails.
#   Logs are kept in BUILD_DIR/valgrind/. Up to JOBS binaries (default:
#   the number of CPUs) run at once.
#
#   --soname-synonyms=somalloc=nouserintercepts: a test may define its own
#   malloc () that measures allocations and calls __libc_malloc
#   (test_request does); valgrind would otherwise replace that function
#   too, and the test would measure nothing. Allocations still go through
#   valgrind's __libc_malloc, so they are tracked as usual.
#
#   Third-party noise (and only that) is suppressed by tests/valgrind.supp.
set -euo pipefail

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
    echo "usage: $0 BUILD_DIR [JOBS]" >&2
    exit 2
fi
build_dir=$(cd "$1" && pwd)
jobs=${2:-$(nproc 2>/dev/null || echo 2)}
source_dir=$(cd "$(dirname "$0")" && pwd)
logs="$build_dir/valgrind"

if ! command -v valgrind >/dev/null; then
    echo "valgrind is not installed (Debian: apt-get install valgrind)" >&2
    exit 1
fi
binaries=()
for binary in "$build_dir"/tests/test_*; do
    [ -f "$binary" ] && [ -x "$binary" ] && binaries+=("$binary")
done
if [ ${#binaries[@]} -eq 0 ]; then
    echo "no test_* binaries in $build_dir/tests" >&2
    exit 1
fi
rm -rf "$logs"
mkdir -p "$logs"

#   One binary: its own output into <name>.out, its exit code into <name>.rc
run_one () {
    local binary=$1
    local name
    name=$(basename "$binary")
    local rc=0
    valgrind --tool=memcheck --leak-check=full --errors-for-leak-kinds=definite \
        --show-leak-kinds=definite --trace-children=yes --num-callers=30 \
        --soname-synonyms=somalloc=nouserintercepts \
        --error-exitcode=1 --suppressions="$source_dir/valgrind.supp" \
        --log-file="$logs/$name.%p.log" \
        "$binary" --jobs 1 > "$logs/$name.out" 2>&1 || rc=$?
    echo "$rc" > "$logs/$name.rc"
    echo "   $name: exit $rc, $(grep -h -E -o 'Tested: [0-9]+ \| Passing: [0-9]+ \| Failing: [0-9]+ \| Crashing: [0-9]+' "$logs/$name.out" | tail -n 1)"
}
export -f run_one
export logs source_dir

started=$(date +%s)
echo "valgrind memcheck over ${#binaries[@]} unit test binaries, $jobs at a time (logs in $logs)"
printf '%s\n' "${binaries[@]}" | xargs -P "$jobs" -I {} bash -c 'run_one "$1"' _ {}

failed=0
for binary in "${binaries[@]}"; do
    name=$(basename "$binary")
    if [ "$(cat "$logs/$name.rc")" != 0 ]; then
        echo "FAILED: $name exited $(cat "$logs/$name.rc"):" >&2
        tail -n 30 "$logs/$name.out" >&2
        failed=1
    fi
done
errors=0
for log in "$logs"/*.log; do
    count=$(sed -n 's/^==[0-9]*== ERROR SUMMARY: \([0-9]*\) errors.*/\1/p' "$log" | tail -n 1)
    if [ -z "$count" ]; then
        #   A process that never finished (killed, or exec'd something else)
        #   has no summary; what it did report still counts
        if grep -q -E "^==[0-9]+== (Invalid|Conditional|Use of|Mismatched|Syscall param|Source and destination|[0-9,]+ bytes in [0-9,]+ blocks are definitely)" "$log"; then
            count=1
        else
            continue
        fi
    fi
    if [ "$count" -gt 0 ]; then
        echo "ERRORS in $log:" >&2
        cat "$log" >&2
        errors=$((errors + count))
    fi
done
elapsed=$(( $(date +%s) - started ))
if [ "$failed" -ne 0 ] || [ "$errors" -ne 0 ]; then
    echo "valgrind: $errors memcheck errors; test failures: $failed (${elapsed}s)" >&2
    exit 1
fi
echo "valgrind: ${#binaries[@]} unit test binaries, $(ls "$logs"/*.log | wc -l) processes, 0 memcheck errors (${elapsed}s)"
