#!/usr/bin/env bash
# Benchmark section of the distributed lock (rwlocker-etcd): starts a local
# 3-member etcd cluster on loopback ports, runs the benchmark beside etcd's
# own lock API, and stops the cluster. Where etcd cannot be installed it
# prints one line saying so and exits 0.
#
#   scripts/bench-etcd.sh            # about a minute
#   scripts/bench-etcd.sh --quick    # about half a minute
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
. scripts/etcd-cluster.sh

if ! etcd_install 2>/dev/null; then
    echo "rwlocker-etcd benchmark skipped: etcd (or protoc) is not installed and cannot be installed here"
    exit 0
fi
tmp=$(mktemp -d)
cleanup() { etcd_stop; rm -rf "$tmp"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

cargo build --release -q -p rwlocker-etcd --example etcd_bench
etcd_start "$tmp"
timeout --kill-after=10 300 target/release/examples/etcd_bench "$@"
