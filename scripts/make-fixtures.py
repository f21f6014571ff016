#!/usr/bin/env python3
"""Writes the recorded scenarios in fixtures/scenarios/ (CONTRACT §3).

Deterministic (a fixed seed): running it again rewrites the same files. Each scenario's
expected verdict lives in fixtures/scenarios/expected.json, written by hand from what the
scenario is meant to show, and checked by the test suite (tests/canaryd/scenarios.rs).

Usage: python3 scripts/make-fixtures.py
"""
import json
import math
import os
import random

OUT = os.path.join(os.path.dirname(__file__), "..", "fixtures", "scenarios")
N = 120  # one hour at 30-second steps


def lognormal(rng, median, sigma, n):
    return [median * math.exp(rng.gauss(0.0, sigma)) for _ in range(n)]


def normal(rng, mean, sd, n):
    return [rng.gauss(mean, sd) for _ in range(n)]


def sparse_ratio(rng, rate, n):
    """An error ratio per step: mostly exact zeros, a few small positive values."""
    return [rng.expovariate(1.0 / (rate * 4)) if rng.random() < 0.25 else 0.0 for _ in range(n)]


def r6(values):
    return [None if v is None else float("%.6g" % v) for v in values]


def write(name, metrics):
    doc = {"metrics": {k: {"baseline": r6(b), "canary": r6(c)} for k, (b, c) in metrics.items()}}
    with open(os.path.join(OUT, name + ".json"), "w") as f:
        json.dump(doc, f, indent=None, separators=(", ", ": "))
        f.write("\n")


def http(rng, p99=1.0, p50=1.0, errors=0.002, canary_errors=None, rate=1.0, no_traffic=False):
    """The four metrics of analysis-templates/http-golden-signals.yaml."""
    m = {}
    base_p99 = lognormal(rng, 0.250, 0.08, N)
    base_p50 = lognormal(rng, 0.080, 0.05, N)
    base_err = sparse_ratio(rng, errors, N)
    base_rate = normal(rng, 120.0, 6.0, N)
    if no_traffic:
        none = [None] * N
        m["p99_latency"] = (base_p99, none)
        m["p50_latency"] = (base_p50, none)
        m["error_ratio"] = (base_err, none)
        m["request_rate"] = (base_rate, [0.0] * N)
        return m
    m["p99_latency"] = (base_p99, lognormal(rng, 0.250 * p99, 0.08, N))
    m["p50_latency"] = (base_p50, lognormal(rng, 0.080 * p50, 0.05, N))
    ce = errors if canary_errors is None else canary_errors
    m["error_ratio"] = (base_err, sparse_ratio(rng, ce, N) if ce < 0.01 else normal(rng, ce, ce / 5, N))
    m["request_rate"] = (base_rate, normal(rng, 120.0 * rate, 6.0, N))
    return m


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = random.Random(20261121)
    write("clean-canary", http(rng))
    write("latency-regression", http(rng, p99=1.30, p50=1.15))
    write("error-spike", http(rng, canary_errors=0.04))
    write("no-traffic", http(rng, no_traffic=True))

    # Marginal: memory grows 25% in the canary; latency and errors hold (checkout-service).
    base_mem = normal(rng, 512e6, 8e6, N)
    can_mem = normal(rng, 640e6, 8e6, N)
    write("marginal-memory-growth", {
        "p95_latency": (lognormal(rng, 0.180, 0.06, N), lognormal(rng, 0.180, 0.06, N)),
        "error_ratio": (sparse_ratio(rng, 0.001, N), sparse_ratio(rng, 0.001, N)),
        "memory_working_set": (base_mem, can_mem),
    })

    # Kayenta passes this: 4 of 120 canary points are ten times slower; the median is unchanged.
    base = lognormal(rng, 0.250, 0.05, N)
    can = lognormal(rng, 0.250, 0.05, N)
    for i in (17, 48, 79, 110):
        can[i] *= 10.0
    write("latency-spikes", {"p99_latency": (base, can), "p99_latency_mean": (base, can)})

    # Kayenta passes this too: 2 single 5xx in the baseline, three bursts of 5 in the canary.
    base = [0.0] * N
    base[40] = base[95] = 1.0
    can = [0.0] * N
    for i in (17, 59, 101):
        can[i] = 5.0
    write("error-bursts", {"errors_5xx": (base, can), "errors_5xx_by_rank": (base, can)})


if __name__ == "__main__":
    main()
