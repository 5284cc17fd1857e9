#!/usr/bin/env bash
#   Run every libFuzzer target of a build for a while.
#
#   usage: tests/fuzz/run.sh BUILD_DIR SECONDS
#
#   Each BUILD_DIR/tests/fuzz/fuzz_* runs for SECONDS (-max_total_time) on
#   a scratch copy of its seed corpus tests/fuzz/corpus/<target>/, so the
#   repository is never modified, with tests/fuzz/<target>.dict when there
#   is one. Crash, leak, timeout and out-of-memory inputs are kept in
#   BUILD_DIR/tests/fuzz/artifacts/<target>/. Exits non-zero if any target
#   failed. STRATA_FUZZ_MALLOC_LIMIT_MB (default 512) caps one allocation.
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

scratch=$(mktemp -d "${TMPDIR:-/tmp}/strata-fuzz.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

found=0
failed=()
for binary in "$fuzz_dir"/fuzz_*; do
    [ -f "$binary" ] && [ -x "$binary" ] || continue
    target=$(basename "$binary")
    found=$((found + 1))
    corpus="$scratch/$target"
    artifacts="$fuzz_dir/artifacts/$target"
    mkdir -p "$corpus" "$artifacts"
    if [ -d "$source_dir/corpus/$target" ]; then
        cp -R "$source_dir/corpus/$target/." "$corpus/"
    fi
    options=(-max_total_time="$seconds" -malloc_limit_mb="$malloc_limit"
             -timeout=10 -print_final_stats=1 -artifact_prefix="$artifacts/")
    if [ -f "$source_dir/$target.dict" ]; then
        options+=(-dict="$source_dir/$target.dict")
    fi
    echo "== $target: ${seconds}s, seed corpus $(ls "$corpus" | wc -l) inputs"
    if "$binary" "${options[@]}" "$corpus"; then
        echo "== $target: ok"
    else
        echo "== $target: FAILED (inputs kept in $artifacts)" >&2
        failed+=("$target")
    fi
done

if [ "$found" -eq 0 ]; then
    echo "no fuzz_* binaries in $fuzz_dir (configure with CC=clang -DSTRATA_FUZZ=ON)" >&2
    exit 1
fi
if [ ${#failed[@]} -gt 0 ]; then
    echo "failed: ${failed[*]}" >&2
    exit 1
fi
echo "all $found fuzz targets ran ${seconds}s without a failure"
