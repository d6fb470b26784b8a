#!/usr/bin/env bash
# Builds the libFuzzer harnesses (Tests/Fuzz) with AddressSanitizer into .build-fuzz and fuzzes each for a bounded
# time, starting from its committed corpus (Tests/Fuzz/Corpus/<name>). Fails on the first crash, leak, timeout or
# failed property, and says where the input is; commit that input under Tests/Fuzz/Corpus/<name>/ with the fix.
#
#   Tests/Fuzz/run.sh [--seconds N] [--build-only] [NAME...]    (default: 8 seconds each, every harness)
#
# New inputs libFuzzer finds go to .build-fuzz/corpus/<name> (kept between runs, never committed).
set -euo pipefail
cd "$(dirname "$0")/../.."
all=(scanner front-matter cdn-rules rewrite jpeg png response-checks)
seconds=8
build_only=0
names=()
while [ $# -gt 0 ]; do
    case "$1" in
        --seconds) seconds="$2"; shift 2 ;;
        --build-only) build_only=1; shift ;;
        -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
        *) names+=("$1"); shift ;;
    esac
done
[ ${#names[@]} -gt 0 ] || names=("${all[@]}")

# -D FUZZING makes each harness's entry point LLVMFuzzerTestOneInput. lld, because gold fails on the sanitizer
# runtime's debug info ("internal error in format_file_lineno").
flags=(--scratch-path .build-fuzz
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING
    -Xswiftc -Xclang-linker -Xswiftc -fuse-ld=lld
    -Xcc -fsanitize=fuzzer-no-link,address)
mkdir -p .build-fuzz
for name in "${names[@]}"; do
    if ! swift build "${flags[@]}" --product "fuzz-$name" >.build-fuzz/build.log 2>&1; then
        grep -v '^\[' .build-fuzz/build.log >&2
        echo "fuzz-$name did not build" >&2
        exit 1
    fi
done
echo "built ${names[*]} into .build-fuzz"
[ "$build_only" -eq 0 ] || exit 0

failed=0
for name in "${names[@]}"; do
    work=".build-fuzz/corpus/$name"
    crashes=".build-fuzz/crashes/$name"
    mkdir -p "$work" "$crashes"
    echo "== fuzz-$name: $seconds s"
    # Swift's own backtracer would wait on a crash; libFuzzer and ASan report it.
    if ! SWIFT_BACKTRACE=enable=no LSAN_OPTIONS="suppressions=$PWD/Tests/Fuzz/lsan.supp" ".build-fuzz/debug/fuzz-$name" -max_total_time="$seconds" -timeout=10 \
        -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 -artifact_prefix="$crashes/" \
        "$work" "Tests/Fuzz/Corpus/$name" >"$crashes/log.txt" 2>&1
    then
        grep -E 'ERROR|Fatal error|SUMMARY|Test unit written' "$crashes/log.txt" | head -20
        echo "fuzz-$name FAILED: the full log is $crashes/log.txt" >&2
        failed=1
    else
        grep -E '^stat::number_of_executed_units|^#[0-9]+ *DONE' "$crashes/log.txt" | tail -2
    fi
done
exit $failed
