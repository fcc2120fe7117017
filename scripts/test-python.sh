#!/usr/bin/env bash
# Builds the Python package `rwlocker` (python/, pyo3 + maturin) into a fresh
# virtual environment and runs its tests (python/tests) with pytest.
#
#   scripts/test-python.sh [pytest args...]
#
# The venv lives in target/python-test-venv (ignored by git); the wheel in
# target/python-wheels. Needs python3 (>= 3.9) with venv, and PyPI for
# maturin, pytest and hypothesis. More property-based examples:
# RWLOCKER_HYPOTHESIS_EXAMPLES=2000 (and RWLOCKER_TEST_DEADLINE=600, the
# per-test deadline in seconds); a longer misuse fuzz: RWLOCKER_FUZZ_SECONDS.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=${PYTHON:-python3}
VENV=$ROOT/target/python-test-venv
WHEELS=$ROOT/target/python-wheels

echo "==> fresh venv in ${VENV#"$ROOT"/} ($($PY --version))"
rm -rf "$VENV"
"$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "maturin>=1.7,<2" "pytest>=7" "hypothesis>=6"

echo "==> maturin build --release"
rm -rf "$WHEELS"
"$VENV/bin/maturin" build --release --quiet --manifest-path python/Cargo.toml \
    --interpreter "$VENV/bin/python" --out "$WHEELS"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps "$WHEELS"/rwlocker-*.whl

echo "==> pytest python/tests"
# Run from target/ so that `import rwlocker` is the installed wheel, not the
# source folder.
cd "$ROOT/target"
"$VENV/bin/python" -c 'import rwlocker, sys; print("rwlocker", rwlocker.__version__, "from", rwlocker.__file__, "on", sys.version.split()[0])'
set +e
"$VENV/bin/python" -m pytest "$ROOT/python/tests" -p no:cacheprovider -o faulthandler_timeout=120 -q "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
    echo "error: pytest collected no tests" >&2
    exit 1
fi
exit "$rc"
