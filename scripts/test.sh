#!/usr/bin/env bash
# Runs the whole test suite: unit tests, and integration tests that run the built binary
# against the local workspace (a Logs query API server executing KQL with duckdb-kql).
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"
cargo test --all-targets "$@"
