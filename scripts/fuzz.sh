#!/usr/bin/env bash
# Runs every fuzz target of tests/canaryd/fuzz (issue 12 item 13) at CASES cases each (default
# 100000), one after the other, in a release build, with a fresh seed per run (FUZZ_SEED=N
# replays one). Prints the cases and time of each target and, at the end, which failed; a
# failure shows the minimal input proptest shrank it to. Any panic fails a target.
# Usage: bash scripts/fuzz.sh [CASES] [TARGET...]   (targets: the test names below)
set -uo pipefail
cd "$(dirname "$0")/.."
CASES="${1:-100000}"
shift || true
TARGETS=("$@")
if [ ${#TARGETS[@]} -eq 0 ]; then
  TARGETS=(template_yaml recorded_json prometheus_answer influxdb_answer graphite_answer
    datadog_answer judge_never_panics judge_report_numbers_are_finite_or_null gate_params
    api_bodies)
fi
cargo test --release --locked --test canaryd --no-run >/dev/null || exit 1
failed=()
for t in "${TARGETS[@]}"; do
  echo "== fuzz::targets::$t at $CASES cases"
  start=$(date +%s)
  FUZZ_CASES="$CASES" nice -n 10 cargo test --release --locked --test canaryd -- --exact \
    "fuzz::targets::$t" --include-ignored --nocapture --test-threads=1 2>&1 \
    | grep -v -E '^(running [0-9]+ tests?|test result:.*|\s*)$'
  status=${PIPESTATUS[0]}
  if [ "$status" -ne 0 ]; then failed+=("$t"); fi
  echo "== $t: $(( $(date +%s) - start )) s wall (build included)"
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED: ${failed[*]}"
  exit 1
fi
echo "all ${#TARGETS[@]} targets passed $CASES cases"
