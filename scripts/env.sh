# Sourced by the other scripts: creates the Python environment the local workspace needs
# (.venv, from tests/workspace/requirements.txt) when it is missing or out of date.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
REQUIREMENTS="$ROOT/tests/workspace/requirements.txt"
STAMP="$VENV/.requirements"

if [ ! -x "$VENV/bin/python" ] || ! cmp -s "$REQUIREMENTS" "$STAMP"; then
  echo "setting up the local workspace's Python environment in .venv" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQUIREMENTS"
  cp "$REQUIREMENTS" "$STAMP"
fi
export SENTINEL_KMS_TEST_PYTHON="$VENV/bin/python"
