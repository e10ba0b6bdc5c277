#!/usr/bin/env bash
# Runs fuzz targets for a bounded time each: `fuzz/run.sh SECONDS TARGET...`,
# where a TARGET may carry its own time as `name=SECONDS` (`make fuzz` and
# `make fuzz-ci` call it). Every target starts from its
# committed seeds (fuzz/corpus/<target>, read only) plus a working corpus in
# fuzz/target/corpus/<target> that is kept between local runs and never
# committed. A crash, a panic, a stack overflow, an input that runs longer
# than FUZZ_TIMEOUT seconds or RSS above FUZZ_RSS_MB fails the run; every
# target still runs, and the artifact paths are listed at the end.
#
# Build flags: `--sanitizer none` (the crate forbids unsafe code; without
# ASan the targets run several times faster and use the stack as the release
# server does), release with debug info. Each input runs on a thread with the
# server's 2 MiB stack (fuzz/src/lib.rs), so unbounded recursion crashes here
# at the depth where it would crash a tokio worker.
set -uo pipefail
cd "$(dirname "$0")/.."

seconds=${1:?usage: fuzz/run.sh SECONDS TARGET...}
shift
: "${CARGO:=cargo}"
: "${FUZZ_TIMEOUT:=10}"
: "${FUZZ_RSS_MB:=2048}"
export RUSTC_BOOTSTRAP=1

# One build for all targets, timed.
start=$(date +%s)
if ! $CARGO fuzz build --sanitizer none; then
    echo "fuzz: build failed" >&2
    exit 1
fi
echo "fuzz: built all targets in $(( $(date +%s) - start ))s"

failed=()
for spec in "$@"; do
    t=${spec%%=*}
    secs=$seconds
    [ "$spec" != "$t" ] && secs=${spec#*=}
    opts=(-max_total_time="$secs" -timeout="$FUZZ_TIMEOUT" -rss_limit_mb="$FUZZ_RSS_MB"
          -print_final_stats=1)
    case $t in
        promql) opts+=(-max_len=65536 -dict=fuzz/dict/promql.dict) ;;
        template) opts+=(-max_len=65536 -dict=fuzz/dict/template.dict) ;;
        config | rules) opts+=(-max_len=16384 -dict=fuzz/dict/yaml.dict) ;;
        exposition) opts+=(-max_len=16384 -dict=fuzz/dict/exposition.dict) ;;
        *) opts+=(-max_len=4096) ;; # structure-aware: bytes drive a grammar
    esac
    work=fuzz/target/corpus/$t
    mkdir -p "$work" "fuzz/artifacts/$t"
    seeds=()
    [ -d "fuzz/corpus/$t" ] && seeds=("fuzz/corpus/$t")
    echo "== fuzz $t for ${secs}s"
    log=fuzz/target/fuzz-$t.log
    $CARGO fuzz run --sanitizer none "$t" "$work" "${seeds[@]}" -- "${opts[@]}" >"$log" 2>&1
    status=$?
    grep -E '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' "$log" |
        sed "s/^/   $t /"
    if [ $status -ne 0 ]; then
        grep -m1 -E "panicked at|==fuzz==|ERROR: libFuzzer|ParseDictionaryFile" "$log" | sed 's/^/   /'
        grep -A3 -m1 "panicked at" "$log" | tail -n +2 | cut -c1-300 | sed 's/^/   /'
        artifact=$(grep -o "Test unit written to .*" "$log" | sed 's/Test unit written to //' | tail -1)
        echo "   FAILED: $t (exit $status); artifact: ${artifact:-none}; log: $log"
        echo "   reproduce: RUSTC_BOOTSTRAP=1 cargo fuzz run --sanitizer none $t ${artifact:-}"
        failed+=("$t: ${artifact:-see $log}")
    fi
done

if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz: ${#failed[@]} target(s) failed:"
    printf '  %s\n' "${failed[@]}"
    exit 1
fi
echo "fuzz: all targets ran clean"
