//! Order statistics of the pairwise differences `x[i] - y[j]` without materialising them.
//!
//! The differences are computed exactly as R computes `outer(x, y, "-")`: one IEEE subtraction
//! each. Rounded subtraction is monotone in each argument, so with `x` and `y` sorted ascending
//! `#{(i, j) : x[i] - y[j] <= v}` is found in one O(n + m) two-pointer pass. The k-th smallest
//! difference is selected over that implicit sorted matrix by sampled pivots (Floyd–Rivest, as
//! Monahan's 1984 Hodges-Lehmann algorithm), a few O(n + m) passes in all, expected
//! O((n + m) log(n + m)). Exact: no tolerance at all, the result is one of the differences,
//! bit for bit.

/// The multiset `{x[i] - y[j]}` of two samples sorted ascending, neither empty nor NaN.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PairwiseDifferences<'a> {
    xs: &'a [f64],
    ys: &'a [f64],
}

/// A small fixed-seed generator for the selection's samples (Steele, Lea and Flood 2014).
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// For each row, the number of leading columns whose entry passes `test` (a test that holds on
/// a prefix of each row, on a shorter prefix the later the row), searched inside `lo..=hi`;
/// returns their sum. One pass: the position never grows from one row to the next.
fn positions(
    n: usize,
    m: usize,
    lo: &[usize],
    hi: &[usize],
    out: &mut [usize],
    test: impl Fn(usize, usize) -> bool,
) -> u64 {
    let mut j = m;
    let mut total = 0u64;
    for i in 0..n {
        j = j.min(hi[i]).max(lo[i]);
        while j > lo[i] && !test(i, j - 1) {
            j -= 1;
        }
        out[i] = j;
        total += j as u64;
    }
    total
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
    ///
    /// Floyd–Rivest selection over the implicit sorted matrix (Monahan 1984, Johnson and
    /// Mizoguchi 1978): row `i` is `x[i] - y[m - 1 - c]`, ascending in `c` and, column for
    /// column, in `i`. Each row keeps a window `lo[i]..hi[i]` of candidate columns. A round
    /// draws a sample of the candidates, takes two sample order statistics that bracket the
    /// k-th with high probability, and counts every row against both in one O(n + m) pass
    /// (the positions only move one way from row to row). The window then shrinks to the
    /// part between the pivots, by a factor of about `6 / sqrt(s)` a round, until few enough
    /// candidates remain to gather and select directly. A pivot is itself a candidate, so
    /// every round shrinks the window even when all values tie. The sample comes from a
    /// fixed-seed generator: the answer never depends on it, and the work is reproducible.
    pub(crate) fn kth_smallest(&self, k: u64) -> f64 {
        let (n, m) = (self.xs.len(), self.ys.len());
        let sample_size = ((n + m) / 4).clamp(256, 1 << 16) as u64;
        self.select(k, sample_size, (2 * sample_size).max(((n + m) / 2) as u64))
    }

    /// [`Self::kth_smallest`] with `sample_size` candidates drawn a round, gathering once at
    /// most `gather_limit` are left (small values let tests exercise the rounds).
    fn select(&self, k: u64, sample_size: u64, gather_limit: u64) -> f64 {
        let k = k.clamp(1, self.len().max(1));
        let (n, m) = (self.xs.len(), self.ys.len());
        if n == 0 || m == 0 {
            return f64::NAN;
        }
        let (xs, ys) = (self.xs, self.ys);
        // Row i, column c (both 0-based): ascending in c.
        let at = |i: usize, c: usize| xs[i] - ys[m - 1 - c];
        let mut lo = vec![0usize; n];
        let mut hi = vec![m; n];
        let mut below = 0u64;
        let mut left = self.len();
        let sample_size = sample_size.max(1);
        let mut rng = SplitMix64(0x9e37_79b9_7f4a_7c15 ^ k ^ ((n as u64) << 32) ^ m as u64);
        let mut prefix = vec![0u64; n + 1];
        let mut sample = Vec::with_capacity(sample_size as usize);
        let mut pos = [
            vec![0usize; n],
            vec![0usize; n],
            vec![0usize; n],
            vec![0usize; n],
        ];
        loop {
            if left <= gather_limit {
                let mut inside = Vec::with_capacity(left as usize);
                for i in 0..n {
                    inside.extend((lo[i]..hi[i]).map(|c| at(i, c)));
                }
                let rank = (k - below - 1) as usize;
                if rank < inside.len() {
                    let (_, kth, _) = inside.select_nth_unstable_by(rank, f64::total_cmp);
                    return *kth + 0.0;
                }
                // Unreachable: below < k <= below + left is kept by every round.
                return f64::NAN;
            }
            // A uniform sample (with replacement) of the candidates.
            for i in 0..n {
                prefix[i + 1] = prefix[i] + (hi[i] - lo[i]) as u64;
            }
            sample.clear();
            for _ in 0..sample_size {
                let r = rng.next() % left;
                let i = prefix.partition_point(|&p| p <= r) - 1;
                sample.push(at(i, lo[i] + (r - prefix[i]) as usize));
            }
            sample.sort_unstable_by(f64::total_cmp);
            let s = sample.len() as f64;
            let t = (k - below) as f64 / left as f64;
            let spread = 3.0 * (s * t * (1.0 - t)).sqrt() + 2.0;
            let centre = t * s;
            let last = sample.len() - 1;
            let p_lo = sample[((centre - spread).floor().max(0.0) as usize).min(last)];
            let p_hi = sample[((centre + spread).ceil().max(0.0) as usize).min(last)];
            // One pass: in each row the number of entries < p_lo, <= p_lo, < p_hi, <= p_hi.
            // Each is at least lo[i] and at most hi[i] (the pivots are candidates), and does
            // not grow from one row to the next.
            let [p0, p1, p2, p3] = &mut pos;
            let totals = [
                positions(n, m, &lo, &hi, p0, |i, c| at(i, c) < p_lo),
                positions(n, m, &lo, &hi, p1, |i, c| at(i, c) <= p_lo),
                positions(n, m, &lo, &hi, p2, |i, c| at(i, c) < p_hi),
                positions(n, m, &lo, &hi, p3, |i, c| at(i, c) <= p_hi),
            ];
            let [lt_lo, le_lo, lt_hi, le_hi] = totals;
            if k <= lt_lo {
                hi.copy_from_slice(&pos[0]);
            } else if k <= le_lo {
                return p_lo + 0.0;
            } else if k <= lt_hi {
                lo.copy_from_slice(&pos[1]);
                hi.copy_from_slice(&pos[2]);
            } else if k <= le_hi {
                return p_hi + 0.0;
            } else {
                lo.copy_from_slice(&pos[3]);
            }
            below = lo.iter().map(|&c| c as u64).sum();
            left = hi.iter().map(|&c| c as u64).sum::<u64>() - below;
        }
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
    use super::PairwiseDifferences;

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

        /// The selection equals the sorted differences at every rank, n = 1 and m = 1 included,
        /// with the default rounds and with tiny samples that force many rounds.
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
                for (sample_size, gather) in [(1, 0), (2, 1), (5, 3)] {
                    prop_assert_eq!(d.select(k, sample_size, gather), want + 0.0, "k = {}", k);
                }
            }
        }

        /// Swapping the roles of the samples with m = 1 also agrees (one column, many rows).
        #[test]
        fn one_column_matches_sorting(mut xs in sample(), y in sample()) {
            xs.sort_by(f64::total_cmp);
            let ys = [y[0]];
            let all = brute_force(&xs, &ys);
            let d = PairwiseDifferences::new(&xs, &ys);
            for (i, &want) in all.iter().enumerate() {
                prop_assert_eq!(d.select(i as u64 + 1, 2, 0), want + 0.0);
            }
        }
    }
}
