#!/usr/bin/env python3
"""Writes fixtures/quality/scenarios.json: the labelled scenario set that `cargo bench --bench
quality` judges with mann-whitney, auto and counts (issue 7, "measured quality").

Deterministic: Python's own Mersenne Twister with a fixed seed (no NumPy needed); run from the
repository root with `python3 scripts/make-quality-scenarios.py`. The file is committed so the
benchmark needs no Python.

Each scenario is one metric: a baseline and a canary series of the same length, in time order
(10-second steps), labelled `regression: true` when a judge should call it `high` (an increase
is bad: latency, errors) and `false` when it must pass.

Continuous metrics (a latency around 200 ms, 120 points = 20 minutes) under five kinds of
noise, the same kind on both sides:
  iid          independent, normal, 10% coefficient of variation
  lognormal    independent, log-normal with sigma 0.25 (skewed, as latencies are)
  ar1          autocorrelated: AR(1) with lag-1 correlation 0.8, 10% marginal CV
  heavy        heavy-tailed: Student t with 3 degrees of freedom, scale 5%
  shared       baseline and canary follow the same traffic pattern (a 10-minute wave of +-30%
               and a slow random walk, identical on both sides) times 5% independent noise
Classes (change applied to the canary):
  none, shift2                     no change, +2% (regression: false; both must pass)
  shift10, shift25, shift50        every point +10%, +25%, +50%
  spread                           deviations from the centre x2.5 (same centre)
  tail                             a random 10% of points x6
  step                             +40% from half-way on
  low_none, low_shift50            low traffic: 20 points with twice the noise; none / +50%
  step_early, step_late            +40% from the first third / from two thirds on
  shared_step                      +40% from half-way on both sides (regression: false)
  short_none, short_tail,          60 points (10 minutes): no change; a random 10% of points x6;
  short_step                       +40% from half-way on
Count metrics (errors per step, 120 points):
  counts_none, counts_x3           0.3 errors per step; canary the same / x3
  counts_low_none, counts_low_x3   0.05 errors per step (low traffic); the same / x3
with the noise kinds read for counts as: iid Poisson; lognormal = Poisson with a log-normal
rate per step (sigma 0.5, overdispersed); ar1 = the log rate follows an AR(1) with 0.8;
heavy = occasional bursts (2% of steps get 5 more errors, both sides alike); shared = the rate
follows the same traffic wave on both sides.

REPS scenarios per class and noise kind. Values are rounded to 4 significant digits.

Options (the defaults write the committed set): --seed, --reps, --classes and --noises (comma
lists, a subset of those above), --out. A large set of one cell measures a rate more finely
than the committed 20 per cell, e.g. the false alarms under autocorrelated noise:
  python3 scripts/make-quality-scenarios.py --classes none --noises ar1 --reps 2000 \
      --seed 1 --out target/none-ar1.json
  QUALITY_FILE=target/none-ar1.json cargo bench --bench quality
"""

import argparse
import json
import math
import random

SEED = 20261122
REPS = 20
N = 120
N_LOW = 20
MU = 200.0

parser = argparse.ArgumentParser(description="Write the labelled quality scenario set.")
parser.add_argument("--seed", type=int, default=SEED)
parser.add_argument("--reps", type=int, default=REPS)
parser.add_argument("--classes", help="comma list of classes (default: all)")
parser.add_argument("--noises", help="comma list of noise kinds (default: all)")
parser.add_argument("--out", default="fixtures/quality/scenarios.json")
args = parser.parse_args()
SEED, REPS = args.seed, args.reps

rng = random.Random(SEED)


def t3():
    z = rng.gauss(0, 1)
    chi = sum(rng.gauss(0, 1) ** 2 for _ in range(3))
    return z / math.sqrt(chi / 3)


def ar1(n, rho):
    e = [rng.gauss(0, 1)]
    s = math.sqrt(1 - rho * rho)
    for _ in range(n - 1):
        e.append(rho * e[-1] + s * rng.gauss(0, 1))
    return e


def traffic(n):
    """A shared traffic pattern: a 10-minute wave (60 steps) of +-30% and a slow random walk."""
    phase = rng.uniform(0, 2 * math.pi)
    walk, w = [], 0.0
    for _ in range(n):
        w = 0.95 * w + 0.02 * rng.gauss(0, 1)
        walk.append(w)
    return [1 + 0.3 * math.sin(2 * math.pi * t / 60 + phase) + walk[t] for t in range(n)]


def continuous(noise, n, scale, pattern):
    """One side: (centre per point, value per point)."""
    if noise == "iid":
        e = [0.1 * scale * rng.gauss(0, 1) for _ in range(n)]
        return [MU] * n, [MU * (1 + x) for x in e]
    if noise == "lognormal":
        s = 0.25 * scale
        return [MU] * n, [MU * math.exp(s * rng.gauss(0, 1) - s * s / 2) for _ in range(n)]
    if noise == "ar1":
        return [MU] * n, [MU * (1 + 0.1 * scale * x) for x in ar1(n, 0.8)]
    if noise == "heavy":
        return [MU] * n, [MU * max(0.2, 1 + 0.05 * scale * t3()) for _ in range(n)]
    if noise == "shared":
        centre = [MU * p for p in pattern]
        return centre, [c * (1 + 0.05 * scale * rng.gauss(0, 1)) for c in centre]
    raise ValueError(noise)


def apply(cls, centre, values):
    n = len(values)
    if cls in ("none", "low_none", "short_none"):
        return values
    factor = {"shift2": 1.02, "shift10": 1.10, "shift25": 1.25, "shift50": 1.5, "low_shift50": 1.5}
    if cls in factor:
        return [v * factor[cls] for v in values]
    if cls == "spread":
        return [max(0.0, c + 2.5 * (v - c)) for c, v in zip(centre, values)]
    if cls == "tail":
        hit = set(rng.sample(range(n), n // 10))
        return [v * 6 if i in hit else v for i, v in enumerate(values)]
    if cls in ("step", "short_step"):
        return [v * 1.4 if i >= n // 2 else v for i, v in enumerate(values)]
    if cls == "step_early":
        return [v * 1.4 if i >= n // 3 else v for i, v in enumerate(values)]
    if cls == "step_late":
        return [v * 1.4 if i >= 2 * n // 3 else v for i, v in enumerate(values)]
    if cls == "short_tail":
        hit = set(rng.sample(range(n), n // 10))
        return [v * 6 if i in hit else v for i, v in enumerate(values)]
    raise ValueError(cls)


def poisson(lam):
    # Knuth for small rates, normal approximation never needed here (rates stay small).
    if lam <= 0:
        return 0
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def counts(noise, n, rate, pattern):
    if noise == "iid":
        lam = [rate] * n
    elif noise == "lognormal":
        lam = [rate * math.exp(0.5 * rng.gauss(0, 1) - 0.125) for _ in range(n)]
    elif noise == "ar1":
        lam = [rate * math.exp(0.7 * x - 0.245) for x in ar1(n, 0.8)]
    elif noise == "heavy":
        lam = [rate] * n
    elif noise == "shared":
        lam = [rate * max(p, 0.0) for p in pattern]
    else:
        raise ValueError(noise)
    out = [poisson(x) for x in lam]
    if noise == "heavy":
        out = [v + (5 if rng.random() < 0.02 else 0) for v in out]
    return out


def r4(v):
    return float(f"{v:.4g}")


CONTINUOUS = ["none", "shift2", "shift10", "shift25", "shift50", "spread", "tail", "step",
              "low_none", "low_shift50", "step_early", "step_late", "shared_step", "short_none",
              "short_tail", "short_step"]
N_SHORT = 60
COUNTS = {"counts_none": (0.3, 1), "counts_x3": (0.3, 3), "counts_low_none": (0.05, 1),
          "counts_low_x3": (0.05, 3)}
NOISES = ["iid", "lognormal", "ar1", "heavy", "shared"]
REGRESSION = {"none": False, "shift2": False, "low_none": False, "counts_none": False,
              "counts_low_none": False, "shared_step": False, "short_none": False}

def chosen(option, names):
    if option is None:
        return list(names)
    wanted = option.split(",")
    unknown = [w for w in wanted if w not in names]
    if unknown:
        parser.error(f"unknown {', '.join(unknown)}; known: {', '.join(names)}")
    return [n for n in names if n in wanted]


CLASSES = chosen(args.classes, CONTINUOUS + list(COUNTS))
NOISES = chosen(args.noises, NOISES)

scenarios = []
for cls in [c for c in CONTINUOUS if c in CLASSES]:
    for noise in NOISES:
        for rep in range(REPS):
            low = cls.startswith("low_")
            n, scale = (N_LOW, 2.0) if low else (N, 1.0)
            if cls.startswith("short_"):
                n = N_SHORT
            pattern = traffic(n)
            _, base = continuous(noise, n, scale, pattern)
            centre, can = continuous(noise, n, scale, pattern)
            if cls == "shared_step":
                # The same step on both sides (a dependency both versions call degraded): no
                # regression of the canary.
                base = [v * 1.4 if i >= n // 2 else v for i, v in enumerate(base)]
                can = [v * 1.4 if i >= n // 2 else v for i, v in enumerate(can)]
            else:
                can = apply(cls, centre, can)
            scenarios.append({
                "id": f"{cls}/{noise}/{rep}", "class": cls, "noise": noise, "kind": "latency",
                "regression": REGRESSION.get(cls, True),
                "baseline": [r4(v) for v in base], "canary": [r4(v) for v in can]})
for cls, (rate, factor) in COUNTS.items():
    if cls not in CLASSES:
        continue
    for noise in NOISES:
        for rep in range(REPS):
            pattern = traffic(N)
            base = counts(noise, N, rate, pattern)
            can = counts(noise, N, rate * factor, pattern)
            scenarios.append({
                "id": f"{cls}/{noise}/{rep}", "class": cls, "noise": noise, "kind": "counts",
                "regression": REGRESSION.get(cls, True), "baseline": base, "canary": can})

with open(args.out, "w") as f:
    f.write('{"generator": "scripts/make-quality-scenarios.py", "seed": %d, "scenarios": [\n' % SEED)
    f.write(",\n".join(json.dumps(s, separators=(",", ":")) for s in scenarios))
    f.write("\n]}\n")
print(f"wrote {len(scenarios)} scenarios to {args.out}")
