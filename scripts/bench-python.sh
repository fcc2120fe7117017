#!/usr/bin/env bash
# The Python section of the benchmark report: the package `rwlocker` (this
# repository) against the library rwlocker 3.2 from PyPI, readerwriterlock,
# aiorwlock, and the threading / asyncio primitives.
#
#   scripts/bench-python.sh [--full] [report.py args...]
#
# Quick by default (about 90 s); --full runs every target and workload with
# 5 trials. Prints tables and writes bench-report/python.json.
#
# Set-up (in target/, ignored by git): a venv with this package built by
# maturin (release) plus the baselines, and rwlocker 3.2 installed with
# `pip --target` into its own folder, since both packages are named
# `rwlocker`; report.py imports 3.2 as `rwlocker32`.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=${PYTHON:-python3}
VENV=$ROOT/target/python-bench-venv
OLD=$ROOT/target/python-bench-rwlocker32
WHEELS=$ROOT/target/python-bench-wheels

if [ ! -x "$VENV/bin/python" ]; then
    echo "==> venv in ${VENV#"$ROOT"/}" >&2
    "$PY" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "maturin>=1.7,<2" readerwriterlock aiorwlock
if [ ! -f "$OLD/rwlocker/__init__.py" ]; then
    echo "==> rwlocker 3.2 from PyPI into ${OLD#"$ROOT"/}" >&2
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps --target "$OLD" "rwlocker==3.2"
fi

echo "==> maturin build --release" >&2
rm -rf "$WHEELS"
"$VENV/bin/maturin" build --release --quiet --manifest-path python/Cargo.toml \
    --interpreter "$VENV/bin/python" --out "$WHEELS" >&2
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps "$WHEELS"/rwlocker-*.whl

mkdir -p bench-report
# Run outside the source tree so that `import rwlocker` is the built wheel.
cd "$ROOT/target"
exec "$VENV/bin/python" "$ROOT/python/benchmarks/report.py" \
    --rwlocker32 "$OLD" --json "$ROOT/bench-report/python.json" "$@"
