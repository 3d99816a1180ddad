#!/usr/bin/env bash
# `make fuzz`: builds Fuzz/ with coverage instrumentation and AddressSanitizer, linked with
# libFuzzer's no-main runtime from the Swift toolchain, and runs every target for FUZZ_SECONDS
# (default 60) on a scratch copy of its committed seed corpus (Fuzz/Corpus/<target>).
#
#   FUZZ_SECONDS=300 make fuzz            longer runs
#   FUZZ_TARGETS="http jws" make fuzz      some targets only
#   FUZZ_MERGE=1 make fuzz                 also merge new interesting inputs into the committed corpus
#
# A crash stops nothing else; its input is kept in Fuzz/crashes/ (git-ignored) and the script
# exits 1 at the end. Make each one a regression test in the main test suites. A target that
# cannot start (a dictionary libFuzzer refuses, a missing corpus) or runs no input also makes the
# script exit 1: `make test` runs every target for a few seconds so that neither goes unseen.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
seconds=${FUZZ_SECONDS:-60}
targets=${FUZZ_TARGETS:-"http form basic jws opaque authorize"}
cd "$here/Fuzz"

# The dependency on the project itself is named "tessera" whatever the checkout is called.
mkdir -p .project crashes
ln -sfn ../.. .project/tessera
swift_bin=$(dirname "$(readlink -f "$(command -v swift)")")
runtime=$(ls "$swift_bin"/../lib/clang/*/lib/linux/libclang_rt.fuzzer_no_main-x86_64.a 2>/dev/null | head -1)
[ -n "$runtime" ] || { echo "libFuzzer's runtime (libclang_rt.fuzzer_no_main) is not in the Swift toolchain" >&2; exit 1; }
flags=(-c debug -Xswiftc -sanitize=address -Xswiftc -sanitize-coverage=edge,inline-8bit-counters,pc-table,trace-cmp
       -Xswiftc -enable-testing -Xlinker "$runtime" -Xlinker -lstdc++)
# The build's output is shown only when it fails (the gold linker warns about every ASan helper).
build_log=$(mktemp /tmp/tessera-fuzz-build.XXXXXX)
echo "== building the fuzz targets (Fuzz/, AddressSanitizer and coverage)"
swift build "${flags[@]}" --product TesseraFuzz >"$build_log" 2>&1 || { grep -v "Cannot export local symbol" "$build_log" | tail -60 >&2; rm -f "$build_log"; echo "the fuzz build failed" >&2; exit 1; }
rm -f "$build_log"
binary="$(swift build "${flags[@]}" --show-bin-path)/TesseraFuzz"

status=0
for target in $targets; do
    corpus="Corpus/$target"
    [ -d "$corpus" ] || { echo "no corpus folder $corpus" >&2; exit 1; }
    scratch=$(mktemp -d /tmp/tessera-fuzz-$target.XXXXXX)
    dictionary=()
    [ -f "Dictionaries/$target.dict" ] && dictionary=("-dict=Dictionaries/$target.dict")
    echo "== fuzzing $target for ${seconds}s"
    findings_before=$(find crashes -name "$target-*" | wc -l)
    # New inputs go to the scratch folder (first); the committed corpus is only read.
    if FUZZ_TARGET=$target timeout -k 10 $((seconds + 120)) "$binary" -max_total_time="$seconds" -print_final_stats=1 \
            -artifact_prefix="crashes/$target-" -max_len=8192 "${dictionary[@]}" "$scratch" "$corpus" >"$scratch.log" 2>&1; then
        # A clean exit counts only if the target really ran: a run that executed nothing is a failure.
        executed=$(sed -n 's/^stat::number_of_executed_units: *//p' "$scratch.log" | tail -1)
        if [ "${executed:-0}" -gt 0 ]; then
            grep -E "stat::number_of_executed_units|stat::new_units_added|cov:" "$scratch.log" | tail -3
        else
            echo "!! $target: the fuzzer exited without running any input; its log:" >&2
            tail -40 "$scratch.log" >&2
            status=1
        fi
    elif [ "$(find crashes -name "$target-*" | wc -l)" -gt "$findings_before" ]; then
        echo "!! $target: the fuzzer stopped with a finding; see Fuzz/crashes/ and this log:" >&2
        tail -40 "$scratch.log" >&2
        status=1
    else
        echo "!! $target: the fuzzer could not start or stopped without a finding (bad dictionary, corpus or option?); its log:" >&2
        tail -40 "$scratch.log" >&2
        status=1
    fi
    if [ "${FUZZ_MERGE:-0}" = 1 ]; then
        FUZZ_TARGET=$target "$binary" -merge=1 "$corpus" "$scratch" >/dev/null 2>&1 || true
    fi
    rm -rf "$scratch" "$scratch.log"
done
exit $status
