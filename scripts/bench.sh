#!/usr/bin/env bash
# Runs rwlocker's benchmark report: every scenario runs rwlocker's locks and
# the std / parking_lot baselines in one process, interleaved, and checks
# correctness while it measures. Prints a table per scenario and writes
# report.json and report.svg to --out (default: bench-report/ in the current
# directory).
#
#   scripts/bench.sh                 # quick mode, about two minutes on 2 cores
#   scripts/bench.sh --full          # everything, more trials
#   scripts/bench.sh --smoke         # seconds: checks that the harness works
#   scripts/bench.sh --only B1 B5    # some scenarios (--list shows them)
#
# B1 (instruction counts) needs valgrind; without it B1 is skipped.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

if ! command -v cargo >/dev/null 2>&1; then
    echo "bench.sh: cargo not found; install a Rust toolchain first" >&2
    exit 1
fi
if ! command -v valgrind >/dev/null 2>&1; then
    echo "bench.sh: valgrind not found: B1 (instruction counts) will be skipped" \
         "(install it with your package manager, e.g. 'apt-get install valgrind')" >&2
fi

exec cargo run --release --manifest-path "$root/Cargo.toml" -p rwlocker-bench -- "$@"
