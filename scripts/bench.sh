#!/usr/bin/env bash
# Runs rwlocker's benchmark report: every scenario runs rwlocker's locks and
# the std / parking_lot (0.12 and 0.13) / tokio / async-lock baselines in one
# process, interleaved, and checks correctness while it measures. Prints a
# table per scenario and writes report.json and report.svg to --out (default:
# bench-report/ in the current directory). A complete run (not --smoke or
# --only) also rewrites the tables of docs/BENCHMARKS.md between its
# <!-- bench:start --> and <!-- bench:end --> markers (--no-docs: leave it).
#
#   scripts/bench.sh                 # quick mode, about four minutes on 2 cores
#   scripts/bench.sh --full          # everything, more trials
#   scripts/bench.sh --smoke         # seconds: checks that the harness works
#   scripts/bench.sh --only B1 B5    # some scenarios (--list shows them)
#   scripts/bench.sh --no-python     # skip the etcd and Python sections
#
# After the Rust report, the etcd section (scripts/bench-etcd.sh: the
# distributed lock against etcd's own lock on a local cluster) and the Python section (scripts/bench-python.sh: the
# Python package against rwlocker 3.2, readerwriterlock, aiorwlock and the
# stdlib) runs too, unless --smoke, --only, --list or --no-python is given
# or python3 is missing; --full is passed on.
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

python=yes
full=()
args=()
for a in "$@"; do
    case "$a" in
        --no-python) python=no; continue ;;
        --smoke|--only|--list) python=no ;;
        --full) full=(--full) ;;
    esac
    args+=("$a")
done

cargo run --release --manifest-path "$root/Cargo.toml" -p rwlocker-bench -- "${args[@]}"

if [ "$python" = yes ]; then
    echo
    echo "== Across processes: rwlocker-etcd (scripts/bench-etcd.sh) =="
    if [ ${#full[@]} -eq 0 ]; then
        "$root/scripts/bench-etcd.sh" --quick || echo "bench.sh: the etcd section failed" >&2
    else
        "$root/scripts/bench-etcd.sh" || echo "bench.sh: the etcd section failed" >&2
    fi
fi

if [ "$python" = yes ]; then
    if command -v "${PYTHON:-python3}" >/dev/null 2>&1; then
        echo
        echo "== Python section (scripts/bench-python.sh) =="
        "$root/scripts/bench-python.sh" "${full[@]}"
    else
        echo "bench.sh: python3 not found: the Python section is skipped" >&2
    fi
fi
