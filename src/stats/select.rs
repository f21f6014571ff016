//! Order statistics of the pairwise differences `x[i] - y[j]` without materialising them.
//!
//! The differences are computed exactly as R computes `outer(x, y, "-")`: one IEEE subtraction
//! each. Rounded subtraction is monotone in each argument, so with `x` and `y` sorted ascending
//! `#{(i, j) : x[i] - y[j] <= v}` is found in one O(n + m) two-pointer pass. The k-th smallest
//! difference is the smallest `f64` `v` whose count reaches k; it is found by bisection over the
//! order-preserving integer image of `f64` (at most 64 passes). Exact: no tolerance at all, the
//! result is one of the differences, bit for bit.

/// The multiset `{x[i] - y[j]}` of two samples sorted ascending, neither empty nor NaN.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PairwiseDifferences<'a> {
    xs: &'a [f64],
    ys: &'a [f64],
}

/// Maps an `f64` to a `u64` with the same order (-0.0 just below +0.0, NaN never occurs here).
fn order_key(v: f64) -> u64 {
    let bits = v.to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    }
}

/// Inverse of [`order_key`].
fn from_order_key(key: u64) -> f64 {
    if key >> 63 == 1 {
        f64::from_bits(key & !(1 << 63))
    } else {
        f64::from_bits(!key)
    }
}

impl<'a> PairwiseDifferences<'a> {
    /// `xs` and `ys` must be sorted ascending, non-empty and free of NaN.
    pub(crate) fn new(xs: &'a [f64], ys: &'a [f64]) -> Self {
        Self { xs, ys }
    }

    /// The number of differences, n * m.
    pub(crate) fn len(&self) -> u64 {
        self.xs.len() as u64 * self.ys.len() as u64
    }

    /// The smallest difference, `min(x) - max(y)`.
    pub(crate) fn min(&self) -> f64 {
        match (self.xs.first(), self.ys.last()) {
            (Some(x), Some(y)) => x - y,
            _ => f64::NAN,
        }
    }

    /// The largest difference, `max(x) - min(y)`.
    pub(crate) fn max(&self) -> f64 {
        match (self.xs.last(), self.ys.first()) {
            (Some(x), Some(y)) => x - y,
            _ => f64::NAN,
        }
    }

    /// `#{(i, j) : x[i] - y[j] <= v}`.
    pub(crate) fn count_le(&self, v: f64) -> u64 {
        let m = self.ys.len();
        // For each x (ascending) the y with x - y <= v form a suffix starting at `first`,
        // and `first` only moves right as x grows.
        let mut first = 0usize;
        let mut count = 0u64;
        for &x in self.xs {
            while first < m && x - self.ys[first] > v {
                first += 1;
            }
            if first == m {
                // Every larger x leaves no y either.
                break;
            }
            count += (m - first) as u64;
        }
        count
    }

    /// The k-th smallest difference, 1-based; k is clamped to 1..=n*m.
    pub(crate) fn kth_smallest(&self, k: u64) -> f64 {
        let k = k.clamp(1, self.len().max(1));
        // Bracket (lo, hi] in the order of f64 keys with count_le(lo) < k <= count_le(hi).
        // lo starts just below the smallest difference (count 0); a key of 0 is below -inf.
        let mut lo = order_key(self.min()).saturating_sub(1);
        let mut count_lo = 0u64;
        let mut hi = order_key(self.max());
        let mut count_hi = self.len();
        // Once few differences remain in the bracket, gathering them beats more passes.
        let gather_limit = 4 * (self.xs.len() + self.ys.len()) as u64;
        while hi - lo > 1 {
            if count_hi - count_lo <= gather_limit {
                // With count_lo == 0 nothing lies at or below lo: no lower bound is needed
                // (and lo may then be the key below -inf, which is not a number).
                let lo_v = (count_lo > 0).then(|| from_order_key(lo));
                let mut inside = self.between(lo_v, from_order_key(hi));
                let rank = (k - count_lo - 1) as usize;
                if rank < inside.len() {
                    let (_, kth, _) = inside.select_nth_unstable_by(rank, f64::total_cmp);
                    return *kth + 0.0;
                }
                // Unreachable: the gathered set has count_hi - count_lo > rank elements.
                break;
            }
            let mid = lo + (hi - lo) / 2;
            let count_mid = self.count_le(from_order_key(mid));
            if count_mid >= k {
                hi = mid;
                count_hi = count_mid;
            } else {
                lo = mid;
                count_lo = count_mid;
            }
        }
        from_order_key(hi) + 0.0
    }

    /// Every difference `d` with `lo < d <= hi` (no lower bound for `None`), in no order.
    fn between(&self, lo: Option<f64>, hi: f64) -> Vec<f64> {
        let m = self.ys.len();
        // For each x: first_le_hi is the first y with x - y <= hi, first_le_lo the first with
        // x - y <= lo; the y in between give lo < x - y <= hi. Both only move right.
        let (mut first_le_hi, mut first_le_lo) = (0usize, 0usize);
        let mut out = Vec::new();
        for &x in self.xs {
            while first_le_hi < m && x - self.ys[first_le_hi] > hi {
                first_le_hi += 1;
            }
            match lo {
                Some(lo) => {
                    while first_le_lo < m && x - self.ys[first_le_lo] > lo {
                        first_le_lo += 1;
                    }
                }
                None => first_le_lo = m,
            }
            out.extend(
                self.ys[first_le_hi..first_le_lo.max(first_le_hi)]
                    .iter()
                    .map(|&y| x - y),
            );
        }
        out
    }

    /// The smallest difference strictly greater than `v`, if any.
    pub(crate) fn next_above(&self, v: f64) -> Option<f64> {
        let m = self.ys.len();
        // For each x the y with x - y > v form a prefix ending before `first`; the smallest
        // such difference is with the largest y of that prefix.
        let mut first = 0usize;
        let mut best: Option<f64> = None;
        for &x in self.xs {
            while first < m && x - self.ys[first] > v {
                first += 1;
            }
            if first > 0 {
                let d = x - self.ys[first - 1];
                best = Some(match best {
                    Some(b) if b <= d => b,
                    _ => d,
                });
            }
        }
        best.map(|d| d + 0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::{from_order_key, order_key, PairwiseDifferences};

    #[test]
    fn order_key_preserves_order() {
        let values = [
            f64::NEG_INFINITY,
            -1e300,
            -1.0,
            -f64::MIN_POSITIVE,
            -0.0,
            0.0,
            5e-324,
            1.0,
            f64::MAX,
            f64::INFINITY,
        ];
        for w in values.windows(2) {
            assert!(order_key(w[0]) < order_key(w[1]), "{} < {}", w[0], w[1]);
        }
        for v in values {
            assert_eq!(from_order_key(order_key(v)).to_bits(), v.to_bits());
        }
    }

    #[test]
    fn kth_smallest_agrees_with_sorting() {
        let xs = [-3.5, -1.0, 0.1, 0.1, 2.0, 7.25];
        let ys = [-2.0, 0.0, 0.3, 0.3, 4.0];
        let mut all: Vec<f64> = xs
            .iter()
            .flat_map(|x| ys.iter().map(move |y| x - y))
            .collect();
        all.sort_by(f64::total_cmp);
        let d = PairwiseDifferences::new(&xs, &ys);
        for (i, &v) in all.iter().enumerate() {
            assert_eq!(d.kth_smallest(i as u64 + 1), v);
            assert_eq!(
                d.count_le(v),
                all.iter().filter(|&&w| w <= v).count() as u64
            );
            let next = all.iter().copied().find(|&w| w > v);
            assert_eq!(d.next_above(v), next);
        }
        assert_eq!(d.kth_smallest(0), all[0]);
        // Overflowing differences (-inf, +inf) and a larger case that takes the bisection
        // passes before gathering.
        let xs = [-f64::MAX, 0.0, 1.0];
        let ys = [-1.0, f64::MAX];
        let d = PairwiseDifferences::new(&xs, &ys);
        assert_eq!(d.kth_smallest(1), f64::NEG_INFINITY);
        assert_eq!(d.kth_smallest(6), 2.0);
        let xs: Vec<f64> = (0..300).map(|i| f64::from(i * 37 % 101) / 7.0).collect();
        let ys: Vec<f64> = (0..200).map(|i| f64::from(i * 13 % 53) / 3.0).collect();
        let (mut xs, mut ys) = (xs, ys);
        xs.sort_by(f64::total_cmp);
        ys.sort_by(f64::total_cmp);
        let mut all: Vec<f64> = xs
            .iter()
            .flat_map(|x| ys.iter().map(move |y| x - y))
            .collect();
        all.sort_by(f64::total_cmp);
        let d = PairwiseDifferences::new(&xs, &ys);
        for k in [1usize, 2, 777, 29_999, 30_000, 30_001, 59_999, 60_000] {
            assert_eq!(d.kth_smallest(k as u64), all[k - 1], "k = {k}");
        }
        assert_eq!(d.kth_smallest(1_000_000), all[all.len() - 1]);
    }
}

#[cfg(test)]
mod properties {
    use super::PairwiseDifferences;
    use proptest::prelude::*;
    use proptest::test_runner::RngSeed;

    /// Values with many ties, continuous ones, and huge and tiny magnitudes (differences that
    /// overflow to ±inf, or underflow to subnormals and signed zeros).
    fn sample() -> impl Strategy<Value = Vec<f64>> {
        let value = prop_oneof![
            (0u32..6).prop_map(f64::from),
            -1e3f64..1e3,
            prop_oneof![Just(1e308), Just(-1e308), Just(f64::MAX), Just(-f64::MAX)],
            prop_oneof![
                Just(1e-308),
                Just(-1e-308),
                Just(5e-324),
                Just(0.0),
                Just(-0.0)
            ],
        ];
        prop::collection::vec(value, 1..25)
    }

    /// Every order statistic by materialising and sorting all n*m differences.
    fn brute_force(xs: &[f64], ys: &[f64]) -> Vec<f64> {
        let mut all: Vec<f64> = xs
            .iter()
            .flat_map(|x| ys.iter().map(move |y| x - y))
            .collect();
        all.sort_by(f64::total_cmp);
        all
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 256,
            rng_seed: RngSeed::Fixed(0x5e1e_c7ed),
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        /// The selection equals the sorted differences at every rank, n = 1 and m = 1 included.
        #[test]
        fn selection_matches_sorting(mut xs in sample(), mut ys in sample(), n1 in any::<bool>()) {
            if n1 {
                xs.truncate(1);
            }
            xs.sort_by(f64::total_cmp);
            ys.sort_by(f64::total_cmp);
            let all = brute_force(&xs, &ys);
            let d = PairwiseDifferences::new(&xs, &ys);
            for (i, &want) in all.iter().enumerate() {
                let k = i as u64 + 1;
                // Signed zeros compare equal; the selection answers +0.0 for either.
                prop_assert_eq!(d.kth_smallest(k), want + 0.0, "k = {}", k);
            }
        }

        /// m = 1 also agrees (one column, many rows).
        #[test]
        fn one_column_matches_sorting(mut xs in sample(), y in sample()) {
            xs.sort_by(f64::total_cmp);
            let ys = [y[0]];
            let all = brute_force(&xs, &ys);
            let d = PairwiseDifferences::new(&xs, &ys);
            for (i, &want) in all.iter().enumerate() {
                prop_assert_eq!(d.kth_smallest(i as u64 + 1), want + 0.0);
            }
        }
    }
}
