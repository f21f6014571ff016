#!/usr/bin/env bash
# Runs every test of canaryd on a fresh machine: installs what the tests need (real Prometheus,
# InfluxDB, Graphite, from Debian's packages), then builds once and runs the whole suite.
# Usage: bash scripts/test.sh [extra cargo test arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -f scripts/setup-test-deps.sh ]; then
  bash scripts/setup-test-deps.sh
fi
cargo test --locked --all-targets "$@"
