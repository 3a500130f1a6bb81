#!/usr/bin/env bash
# The benchmark in one command: builds the release binary, installs the Python SDK peers into
# .venv (next to the local workspace's requirements), and runs bench/bench.py. Arguments go to
# bench.py, e.g. `bench/run.sh --sizes 10x20 --no-peers`.
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/env.sh"
cd "$ROOT"
BENCH_REQUIREMENTS="$ROOT/bench/requirements.txt"
BENCH_STAMP="$VENV/.bench-requirements"
if ! cmp -s "$BENCH_REQUIREMENTS" "$BENCH_STAMP"; then
  echo "installing the benchmark's peers (azure-monitor-query) into .venv" >&2
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$BENCH_REQUIREMENTS"
  cp "$BENCH_REQUIREMENTS" "$BENCH_STAMP"
fi
echo "building the release binary" >&2
cargo build --release --quiet
exec "$VENV/bin/python" "$ROOT/bench/bench.py" "$@"
