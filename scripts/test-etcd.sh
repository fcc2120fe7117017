#!/usr/bin/env bash
# Runs rwlocker-etcd's tests against a real 3-member etcd cluster on loopback
# ports: installs etcd if missing, starts the cluster in a temporary
# directory, runs the tests, and stops the cluster on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
. scripts/etcd-cluster.sh

etcd_install
tmp=$(mktemp -d)
cleanup() { etcd_stop; rm -rf "$tmp"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

cargo build --release -q -p rwlocker-etcd --tests
etcd_start "$tmp"
# Every test but the one that kills a cluster member, then that one alone.
# `timeout` signals its whole process group, so a holder process that a test
# paused with SIGSTOP is killed too if the tests run past their limit.
timeout --kill-after=10 240 cargo test --release -q -p rwlocker-etcd
RWLOCKER_ETCD_KILL_MEMBER=1 timeout --kill-after=10 120 cargo test --release -q -p rwlocker-etcd --test member_failure
