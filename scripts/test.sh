#!/usr/bin/env bash
# Runs every test of rwlocker: formatting, lints, docs, the Rust test suite
# (unit, integration, doc tests, examples), the loom models, and the Python
# package's tests. Installs what it needs (Rust components, a Python venv).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

step() { printf '\n==> %s\n' "$*"; }

step "format"
rustup component add rustfmt clippy >/dev/null 2>&1 || true
cargo fmt --all -- --check

step "system packages (protoc for rwlocker-etcd's build, etcd for its tests)"
. scripts/etcd-cluster.sh
etcd_install

step "clippy"
cargo clippy --workspace --all-targets -- -D warnings

step "clippy, lock_api 0.5 feature"
cargo clippy -p rwlocker --all-targets --features lock_api_05 -- -D warnings

step "docs"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --quiet

step "rust tests"
cargo test --workspace --release

step "lock_api 0.5 feature"
cargo test --release -p rwlocker --features lock_api_05 --test lock_api_05 --test lock_api
cargo test --release -p rwlocker --features lock_api_05 --doc lock_api_impl

step "rust tests with invariant checks (debug assertions, overflow checks)"
cargo test -p rwlocker --profile checked

step "loom models (LOOM_MAX_PREEMPTIONS=${LOOM_MAX_PREEMPTIONS:=2})"
LOOM_MAX_PREEMPTIONS=$LOOM_MAX_PREEMPTIONS LOOM_MAX_BRANCHES=${LOOM_MAX_BRANCHES:-10000} \
RUSTFLAGS="--cfg loom -C debug-assertions" CARGO_TARGET_DIR=target/loom \
    cargo test --release --lib -p rwlocker -- loom_

if [ -x scripts/test-python.sh ]; then
    step "python package"
    scripts/test-python.sh
fi

step "rwlocker-etcd against a local 3-member etcd cluster"
scripts/test-etcd.sh
