# Sourced by the other scripts: creates the Python environment the local workspace and the local
# AWS need (.venv, from tests/workspace/requirements.txt and tests/aws/requirements.txt) and
# installs Microsoft's Kusto analyser for `lint` (node_modules, from package-lock.json), each when
# it is missing or out of date.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
REQUIREMENTS="$ROOT/tests/workspace/requirements.txt"
AWS_REQUIREMENTS="$ROOT/tests/aws/requirements.txt"
STAMP="$VENV/.requirements"

if [ ! -x "$VENV/bin/python" ] || ! cat "$REQUIREMENTS" "$AWS_REQUIREMENTS" | cmp -s - "$STAMP"; then
  echo "setting up the Python environment of the local workspace and the local AWS in .venv" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
    -r "$REQUIREMENTS" -r "$AWS_REQUIREMENTS"
  cat "$REQUIREMENTS" "$AWS_REQUIREMENTS" > "$STAMP"
fi
export SENTINEL_KMS_TEST_PYTHON="$VENV/bin/python"

NODE_LOCK="$ROOT/package-lock.json"
NODE_STAMP="$ROOT/node_modules/.sentinel-kms-lock"
if ! cmp -s "$NODE_LOCK" "$NODE_STAMP"; then
  if command -v npm >/dev/null; then
    echo "installing the Kusto analyser for lint in node_modules (npm ci)" >&2
    (cd "$ROOT" && npm ci --no-audit --no-fund --loglevel=error >&2)
    cp "$NODE_LOCK" "$NODE_STAMP"
  else
    echo "npm not found: lint will skip KQL analysis (install Node.js 20, then rerun)" >&2
  fi
fi
