#!/usr/bin/env bash
# Runs every test of canaryd on a fresh machine: installs what the tests need (real Prometheus,
# InfluxDB, Graphite, from Debian's packages), builds everything once, then runs the unit tests,
# the benchmarks in test mode, and the integration suite (tests/canaryd, one binary) last.
# Usage: bash scripts/test.sh [extra arguments for the integration suite's test harness]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -f scripts/setup-test-deps.sh ]; then
  bash scripts/setup-test-deps.sh
fi
cargo build --locked --all-targets
cargo test --locked --lib --bins --benches
cargo test --locked --test canaryd -- "$@"
