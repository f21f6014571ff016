//! Group-sequential boundaries: how much of a whole-rollout error rate α each look of an
//! analysis may spend, and the z a statistic must reach at that look.
//!
//! - Alpha spending (Lan & DeMets 1983, "Discrete sequential boundaries for clinical trials",
//!   Biometrika 70:659–663): a function α(t) of the information fraction t ∈ [0, 1], α(0) = 0,
//!   α(1) = α, says how much error may have been spent by t ([`spent`]).
//! - Exact boundaries ([`boundaries`]): under the canonical joint distribution of a cumulative
//!   statistic on nested (growing) data, Z_k ~ N(0, 1) with independent score increments and
//!   corr(Z_j, Z_k) = √(t_j / t_k) (Jennison & Turnbull 2000, *Group Sequential Methods with
//!   Applications to Clinical Trials*, §3.1 and §7.2), b_k is the z at which the probability of
//!   first crossing at look k equals α(t_k) − α(t_{k−1}). The crossing probabilities come from
//!   the recursive numerical integration of Armitage, McPherson & Rowe (1969, JRSS A 132:235–244;
//!   Jennison & Turnbull ch. 19) ([`exit_probabilities`]). b_k depends on t_1..t_k only.
//! - Bonferroni on the spending increments ([`bonferroni_levels`]): level_k = α(t_k) − α(t_{k−1}),
//!   valid whatever the dependence between looks (union bound), for windows that do not nest.
//! - An open horizon ([`open_level`]): α / (k (k + 1)), which sums to α over k = 1, 2, ...
//!
//! Tolerances: the integration uses Simpson's rule on a grid of at most 1/16 of the smallest
//! standard deviation of an increment, truncated at |z| = 8 (mass below 1e-15); the boundaries
//! are solved by bisection to 1e-10. Tested against Jennison & Turnbull's tables to their
//! printed 3 decimals (tests/canaryd/stats_sequential.rs).

use super::normal::{pnorm_upper, qnorm};

/// The alpha-spending function of a sequential analysis (`sequential.spending`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Spending {
    /// Lan & DeMets' Pocock-type function α ln(1 + (e − 1) t): spends early, so that a
    /// regression is caught early (the default).
    #[default]
    Pocock,
    /// Lan & DeMets' O'Brien-Fleming-type function 2 (1 − Φ(z_{1−α/2} / √t)): spends almost
    /// nothing at first and keeps nearly the whole α for the last look.
    #[serde(rename = "o-brien-fleming")]
    OBrienFleming,
}

impl Spending {
    /// The name used in reports: `pocock` or `o-brien-fleming`.
    pub fn as_str(self) -> &'static str {
        match self {
            Spending::Pocock => "pocock",
            Spending::OBrienFleming => "o-brien-fleming",
        }
    }
}

/// The error α(t) that `spending` allows to have been spent by information fraction `t`
/// (clamped to [0, 1]); α(0) = 0 and α(1) = `alpha`. Lan & DeMets (1983), eq. (3) and (4), in
/// their one-sided form (Jennison & Turnbull 2000, §7.2.1).
pub fn spent(spending: Spending, alpha: f64, t: f64) -> f64 {
    let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
    if t <= 0.0 {
        return 0.0;
    }
    if t >= 1.0 {
        return alpha;
    }
    match spending {
        Spending::Pocock => alpha * (1.0 + (std::f64::consts::E - 1.0) * t).ln(),
        Spending::OBrienFleming => {
            let z = qnorm(alpha / 2.0, false);
            (2.0 * pnorm_upper(z / t.sqrt())).min(alpha)
        }
    }
}

/// The nominal one-sided levels of Bonferroni on the spending increments: level_k =
/// α(t_k) − α(t_{k−1}) (t_0 = 0). They sum to α(t_K) ≤ α, so the chance of any false crossing
/// is at most α whatever the dependence between the looks. A fraction that does not grow gets
/// level 0.
pub fn bonferroni_levels(spending: Spending, alpha: f64, fractions: &[f64]) -> Vec<f64> {
    let mut before = 0.0;
    fractions
        .iter()
        .map(|&t| {
            let now = spent(spending, alpha, t).max(before);
            let level = now - before;
            before = now;
            level
        })
        .collect()
}

/// The one-sided level of look `look` (1-based; 0 counts as 1) when the number of looks is not
/// known: α / (k (k + 1)), whose sum over every k is α (a telescoping series).
pub fn open_level(alpha: f64, look: usize) -> f64 {
    let k = look.max(1) as f64;
    alpha / (k * (k + 1.0))
}

/// The exact one-sided group-sequential boundaries (z scale) at information fractions
/// `fractions` (increasing, in (0, 1]): b_k is such that, under the canonical joint
/// distribution, P(Z_1 < b_1, ..., Z_{k−1} < b_{k−1}, Z_k ≥ b_k) = α(t_k) − α(t_{k−1}). It
/// depends on t_1..t_k only. A look with nothing to spend gets +∞.
pub fn boundaries(spending: Spending, alpha: f64, fractions: &[f64]) -> Vec<f64> {
    let increments = bonferroni_levels(spending, alpha, fractions);
    let mut out: Vec<f64> = Vec::with_capacity(fractions.len());
    let mut grid: Option<Grid> = None;
    let h = step(fractions);
    for (k, (&t, &pi)) in fractions.iter().zip(&increments).enumerate() {
        let b = match &grid {
            None => {
                if pi > 0.0 {
                    qnorm(pi, false)
                } else {
                    f64::INFINITY
                }
            }
            Some(g) => {
                let sigma = (t - fractions[k - 1]).max(0.0).sqrt();
                solve_upper(g, t, sigma, pi)
            }
        };
        out.push(b);
        grid = Some(match grid {
            None => Grid::first(t, f64::NEG_INFINITY, b, h),
            Some(g) => g.next(t, fractions[k - 1], f64::NEG_INFINITY, b, h),
        });
    }
    out
}

/// The probabilities, under the canonical joint distribution with no drift, that the first
/// crossing happens at each look, upward (Z_k ≥ `upper[k]`) and downward (Z_k ≤ `lower[k]`,
/// with `lower`; one-sided without): `[up, down]` per look. Armitage, McPherson & Rowe (1969)
/// by Simpson's rule (Jennison & Turnbull 2000, §19.2).
pub fn exit_probabilities(
    upper: &[f64],
    lower: Option<&[f64]>,
    fractions: &[f64],
) -> Vec<[f64; 2]> {
    let h = step(fractions);
    let low = |k: usize| lower.map_or(f64::NEG_INFINITY, |l| l[k]);
    let mut out = Vec::with_capacity(fractions.len());
    let mut grid: Option<Grid> = None;
    for (k, &t) in fractions.iter().enumerate() {
        let (b, a) = (upper[k], low(k));
        let exits = match &grid {
            None => [
                pnorm_upper(b),
                if a.is_finite() { pnorm_upper(-a) } else { 0.0 },
            ],
            Some(g) => {
                let sigma = (t - fractions[k - 1]).max(0.0).sqrt();
                [
                    g.crossing(b * t.sqrt(), sigma, true),
                    if a.is_finite() {
                        g.crossing(a * t.sqrt(), sigma, false)
                    } else {
                        0.0
                    },
                ]
            }
        };
        out.push(exits);
        grid = Some(match grid {
            None => Grid::first(t, a, b, h),
            Some(g) => g.next(t, fractions[k - 1], a, b, h),
        });
    }
    out
}

/// Truncation of the continuation region, in z: the mass beyond is below 1e-15.
const Z_TRUNCATE: f64 = 8.0;

/// The grid spacing on the score scale: 1/16 of the smallest standard deviation among the
/// first look's and the increments'.
fn step(fractions: &[f64]) -> f64 {
    let mut smallest = fractions.first().map_or(1.0, |t| t.max(0.0).sqrt());
    for w in fractions.windows(2) {
        let d = (w[1] - w[0]).max(0.0).sqrt();
        if d > 0.0 {
            smallest = smallest.min(d);
        }
    }
    (smallest / 16.0).max(1e-4)
}

/// The sub-density of the score S_k = Z_k √t_k on the continuation region of look k, with the
/// Simpson weights of its points folded in.
struct Grid {
    /// Points on the score scale.
    points: Vec<f64>,
    /// Density × Simpson weight at each point.
    mass: Vec<f64>,
}

impl Grid {
    /// Simpson points and weights over [lo, hi] with spacing at most `h`.
    fn simpson(lo: f64, hi: f64, h: f64) -> (Vec<f64>, Vec<f64>) {
        if hi <= lo {
            return (Vec::new(), Vec::new());
        }
        let m = ((hi - lo) / (2.0 * h)).ceil().max(1.0) as usize;
        let n = 2 * m + 1;
        let d = (hi - lo) / (2 * m) as f64;
        let points = (0..n).map(|i| lo + d * i as f64).collect();
        let weights = (0..n)
            .map(|i| {
                let w = if i == 0 || i == n - 1 {
                    1.0
                } else if i % 2 == 1 {
                    4.0
                } else {
                    2.0
                };
                w * d / 3.0
            })
            .collect();
        (points, weights)
    }

    /// The continuation region of look k on the score scale, truncated at ±8 in z.
    fn region(t: f64, a: f64, b: f64) -> (f64, f64) {
        let s = t.sqrt();
        (
            a.max(-Z_TRUNCATE) * s,
            b.clamp(-Z_TRUNCATE, Z_TRUNCATE + 4.0) * s,
        )
    }

    /// The first look: S_1 ~ N(0, t_1) on (a√t_1, b√t_1).
    fn first(t: f64, a: f64, b: f64, h: f64) -> Grid {
        let (lo, hi) = Grid::region(t, a, b);
        let (points, weights) = Grid::simpson(lo, hi, h);
        let sd = t.sqrt();
        let mass = points
            .iter()
            .zip(&weights)
            .map(|(&s, &w)| w * phi(s / sd) / sd)
            .collect();
        Grid { points, mass }
    }

    /// The next look at fraction `t` (the previous was at `before`): the density convolved with
    /// the increment N(0, t − before), on the new continuation region.
    fn next(&self, t: f64, before: f64, a: f64, b: f64, h: f64) -> Grid {
        let sigma = (t - before).max(0.0).sqrt();
        let (lo, hi) = Grid::region(t, a, b);
        let (points, weights) = Grid::simpson(lo, hi, h);
        if sigma <= 0.0 {
            // No new information: the same statistic; keep the density where it continues.
            return Grid {
                points: self.points.clone(),
                mass: self
                    .points
                    .iter()
                    .zip(&self.mass)
                    .map(|(&u, &m)| if u >= lo && u <= hi { m } else { 0.0 })
                    .collect(),
            };
        }
        let reach = 9.0 * sigma;
        let mass = points
            .iter()
            .zip(&weights)
            .map(|(&s, &w)| {
                let start = self.points.partition_point(|&u| u < s - reach);
                let mut f = 0.0;
                for (u, m) in self.points[start..].iter().zip(&self.mass[start..]) {
                    if *u > s + reach {
                        break;
                    }
                    f += m * phi((s - u) / sigma);
                }
                w * f / sigma
            })
            .collect();
        Grid { points, mass }
    }

    /// The probability of continuing to here and then crossing `c` (score scale) at the next
    /// look, whose increment has standard deviation `sigma`: upward (S ≥ c) or downward.
    fn crossing(&self, c: f64, sigma: f64, up: bool) -> f64 {
        if sigma <= 0.0 {
            return 0.0;
        }
        self.points
            .iter()
            .zip(&self.mass)
            .map(|(&u, &m)| {
                let z = (c - u) / sigma;
                m * if up { pnorm_upper(z) } else { pnorm_upper(-z) }
            })
            .sum()
    }
}

/// The boundary b (z scale) at fraction `t` with P(continue so far, cross b now) = `target`.
fn solve_upper(grid: &Grid, t: f64, sigma: f64, target: f64) -> f64 {
    if target <= 0.0 || sigma <= 0.0 {
        return f64::INFINITY;
    }
    let s = t.sqrt();
    let exit = |b: f64| grid.crossing(b * s, sigma, true);
    let (mut lo, mut hi) = (-Z_TRUNCATE, 40.0);
    if exit(lo) <= target {
        return lo;
    }
    if exit(hi) >= target {
        return hi;
    }
    while hi - lo > 1e-10 {
        let mid = 0.5 * (lo + hi);
        if exit(mid) > target {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// The standard normal density.
fn phi(z: f64) -> f64 {
    (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

/// Φ⁻¹(1 − p): the z whose upper tail is `p` (+∞ for 0).
pub fn upper_z(p: f64) -> f64 {
    qnorm(p, false)
}

/// 1 − Φ(z): the upper tail of the standard normal.
pub fn upper_tail(z: f64) -> f64 {
    pnorm_upper(z)
}
