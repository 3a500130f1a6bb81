#!/usr/bin/env bash
# Builds sentinel-kms and runs `validate` against the local workspace seeded with a scenario
# (default: region-stopped, where one AWS region stopped delivering findings two days ago).
# Usage: scripts/demo.sh [SCENARIO] [extra validate arguments]
# Scenarios: ls tests/workspace/scenarios
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"
scenario="${1:-region-stopped}"
shift || true
workspace_id="00000000-0000-0000-0000-000000000001"

cargo build
log="$(mktemp)"
"$VENV/bin/python" tests/workspace/server.py --scenario "$scenario" --port 0 \
  --workspace "$workspace_id" --token demo-token >"$log" 2>/dev/null &
server=$!
trap 'kill "$server" 2>/dev/null; rm -f "$log"' EXIT
for _ in $(seq 1 100); do
  grep -q '^READY ' "$log" && break
  kill -0 "$server" 2>/dev/null || { echo "the local workspace did not start" >&2; exit 3; }
  sleep 0.1
done
endpoint="$(awk '/^READY /{print $2}' "$log")"

echo "local workspace: scenario '$scenario' at $endpoint" >&2
echo "+ sentinel-kms validate --workspace $workspace_id --endpoint $endpoint --auth access-token $*" >&2
set +e
SENTINEL_KMS_ACCESS_TOKEN=demo-token ./target/debug/sentinel-kms validate \
  --workspace "$workspace_id" --endpoint "$endpoint" --auth access-token "$@"
code=$?
set -e
echo "sentinel-kms exited with $code (0 nothing failed, 1 a check failed, 2 usage, 3 could not evaluate)" >&2
# A failing verdict is what the scenario is for; only a broken run fails the demo.
[ "$code" -le 1 ] && exit 0 || exit "$code"
