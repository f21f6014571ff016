#!/usr/bin/env bash
# Installs what canaryd's tests and benchmarks need on a fresh Debian 12 (run as root):
# the real metric backends the source tests start (Prometheus with promtool, InfluxDB 1.x,
# Graphite's carbon-cache and graphite-web), PostgreSQL (the API tests start a throwaway
# cluster), wrk (the load benchmark), the OpenAPI validator the API tests run on /openapi.json
# (PyPI `openapi-spec-validator`), the Kubernetes schema validator and kubectl the deploy test
# runs on deploy/kubernetes (PyPI `kubernetes-validate`, `kubectl kustomize`), and the system
# libraries the crate links (OpenSSL for reqwest's native-tls). Idempotent: packages already
# installed are skipped, and `apt-get update` runs at most once. Quiet unless something
# fails; fails loudly.
set -euo pipefail

packages=(
  pkg-config libssl-dev    # reqwest native-tls -> openssl-sys (no cmake needed)
  prometheus               # prometheus + promtool (tsdb create-blocks-from openmetrics)
  influxdb                 # InfluxDB 1.x: influxd
  graphite-carbon          # carbon-cache
  graphite-web             # graphite-manage (Django) serving /render
  curl                     # readiness probes in scripts
  jq                       # the GitHub Actions gate's script (tests/canaryd/integrations.rs)
  postgresql               # initdb/postgres for throwaway clusters in the API tests
  wrk                      # HTTP load generator (benches/api_load.rs)
  chromium                 # headless browser for the report-page test
)
# `kubectl kustomize` renders deploy/kubernetes (tests/canaryd/deploy.rs). Any kubectl will do:
# Debian's kubernetes-client (1.20) conflicts with other packages shipping /usr/bin/kubectl.
if ! command -v kubectl >/dev/null 2>&1; then
  packages+=(kubernetes-client)
fi

# The OpenAPI validator (Python) the API tests run on /openapi.json.
if ! python3 -c 'import openapi_spec_validator' 2>/dev/null; then
  echo "setup-test-deps.sh: pip install openapi-spec-validator"
  python3 -m pip install -q --disable-pip-version-check 'openapi-spec-validator>=0.7' >/dev/null
fi

# The offline Kubernetes schema validator the deploy test runs on deploy/kubernetes.
if ! python3 -c 'import kubernetes_validate' 2>/dev/null; then
  echo "setup-test-deps.sh: pip install kubernetes-validate"
  python3 -m pip install -q --disable-pip-version-check 'kubernetes-validate>=1.28' >/dev/null
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "setup-test-deps.sh: must run as root (apt-get install)" >&2
  exit 1
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "setup-test-deps.sh: all test dependencies already installed"
  exit 0
fi

echo "setup-test-deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! apt-get update -qq >"$log" 2>&1; then
  cat "$log" >&2
  echo "setup-test-deps.sh: apt-get update failed" >&2
  exit 1
fi
# Packaged services must not start system-wide daemons on the default ports; the tests start
# their own on free loopback ports. policy-rc.d 101 tells invoke-rc.d not to start anything.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod +x "$policy"
  created_policy=1
fi
status=0
apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$log" 2>&1 || status=$?
if [ "$created_policy" -eq 1 ]; then rm -f "$policy"; fi
if [ "$status" -ne 0 ]; then
  cat "$log" >&2
  echo "setup-test-deps.sh: apt-get install failed (status $status)" >&2
  exit 1
fi

for bin in prometheus promtool influxd carbon-cache graphite-manage wrk chromium kubectl; do
  if ! command -v "$bin" >/dev/null 2>&1; then
    echo "setup-test-deps.sh: $bin is missing after install" >&2
    exit 1
  fi
done
echo "setup-test-deps.sh: done"
