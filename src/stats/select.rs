//! Order statistics of the pairwise differences `x[i] - y[j]` without materialising them.
//!
//! The differences are computed exactly as R computes `outer(x, y, "-")`: one IEEE subtraction
//! each. Rounded subtraction is monotone in each argument, so with `x` and `y` sorted ascending
//! each row `x[i] - y[.]` is decreasing, and `#{(i, j) : x[i] - y[j] <= v}` is found in one
//! O(n + m) two-pointer pass.
//!
//! Selection narrows a band of live differences `lo < d <= hi` (per row, a range of columns):
//! a stratified sample of the band gives pivots just below and just above each wanted rank, one
//! pass counts at every pivot exactly, and each wanted rank goes on in the part between two
//! pivots that holds it, until the part is small enough to gather and select directly. At
//! n = m = 10^4 .. 10^6 that is three rounds, the first shared by every wanted rank. A rank
//! the sample misses only costs a round; the answer is exact whatever the sample: one of the
//! differences, bit for bit. The sample comes from a fixed-seed generator, so the result and
//! the work done are deterministic. After [`MAX_ROUNDS`] rounds (never reached on real data)
//! bisection over the order-preserving integer image of `f64` takes over (at most 64 passes).

/// Each pivot's distance from a target's expected place in the sample, in binomial standard
/// deviations of a sample quantile: a stratified sample's quantiles vary less than that, so
/// two rarely miss (a miss costs one more round; it never changes the answer).
const MARGIN_SDS: f64 = 2.0;

#[cfg(test)]
thread_local! {
    /// How often this thread's selections fell back to bisection (tests only).
    static FALLBACKS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Rounds of sampled narrowing before bisection takes over.
const MAX_ROUNDS: usize = 24;

use std::rc::Rc;

use super::radix::{from_order_key, order_key};

/// The multiset `{x[i] - y[j]}` of two samples sorted ascending, neither empty nor NaN.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PairwiseDifferences<'a> {
    xs: &'a [f64],
    ys: &'a [f64],
    /// The least gather limit and sample size ([`GATHER_FLOOR`], [`SAMPLE_FLOOR`]; the
    /// property tests lower them so that small inputs take many rounds).
    gather_floor: u64,
    sample_floor: usize,
    /// Gathered differences allowed per point of n + m (2; 0 in the property tests).
    gather_per_point: u64,
    /// Every column of every row, or (Walsh sums) row i's first n - i columns only.
    triangle: bool,
}

/// Bands of at most this many differences (or 2 (n + m), if more) are gathered.
const GATHER_FLOOR: u64 = 4096;

/// Samples hold at least this many differences.
const SAMPLE_FLOOR: usize = 1024;

/// The live part of the difference matrix: the differences `d` with `lo < d <= hi`, which in
/// row i are the columns `first_le_hi[i]..first_le_lo[i]`.
#[derive(Debug, Clone)]
struct Band {
    /// The lower bound, exclusive: `(value, #{d <= value}, per row the first column with
    /// d <= value)`; `None` below every difference.
    lo: Option<f64>,
    count_lo: u64,
    first_le_lo: Rc<Vec<Column>>,
    /// The upper bound, inclusive, with `#{d <= hi}` and the first columns with `d <= hi`.
    hi: f64,
    count_hi: u64,
    first_le_hi: Rc<Vec<Column>>,
}

impl Band {
    /// Every difference.
    fn full(d: &PairwiseDifferences<'_>) -> Self {
        Self {
            lo: None,
            count_lo: 0,
            first_le_lo: Rc::new((0..d.xs.len()).map(|i| d.row_end(i) as Column).collect()),
            hi: d.max(),
            count_hi: d.len(),
            first_le_hi: Rc::new(vec![0; d.xs.len()]),
        }
    }

    /// The number of live differences.
    fn total(&self) -> u64 {
        self.count_hi - self.count_lo
    }
}

/// A column index in a band (half the memory of `usize`; [`PairwiseDifferences::select`]
/// takes the bisection path for samples longer than `u32::MAX`).
type Column = u32;

/// A value inside a band with its count and first columns: a bound of a narrower band.
struct Cut {
    value: f64,
    count: u64,
    firsts: Rc<Vec<Column>>,
}

/// A wanted rank (1-based, within 1..=n*m) and the slot its answer goes to.
#[derive(Debug, Clone, Copy)]
struct Target {
    k: u64,
    slot: usize,
}

/// One step of SplitMix64 (a fixed-seed generator: the selection stays deterministic).
fn splitmix64(state: u64) -> u64 {
    let mut z = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The least count c in 0..=total for which `pred` holds (`pred` false then true as c grows),
/// or total + 1: where a monotone statistic of the count crosses a level. Pure arithmetic, no
/// pass over the data.
pub(crate) fn first_count(total: u64, pred: impl Fn(u64) -> bool) -> u64 {
    let (mut lo, mut hi) = (0u64, total + 1);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if pred(mid) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    lo
}

impl<'a> PairwiseDifferences<'a> {
    /// `xs` and `ys` must be sorted ascending, non-empty and free of NaN.
    pub(crate) fn new(xs: &'a [f64], ys: &'a [f64]) -> Self {
        Self {
            xs,
            ys,
            gather_floor: GATHER_FLOOR,
            sample_floor: SAMPLE_FLOOR,
            gather_per_point: 2,
            triangle: false,
        }
    }

    /// The Walsh sums `x[i] + x[j]`, i <= j, of a sample sorted ascending (non-empty, free
    /// of NaN), given `negated`, its values negated in reverse order (`-x[n - 1 - k]` at k):
    /// row i, column k is `x[i] - negated[k] = x[i] + x[n - 1 - k]`, one IEEE addition as R's
    /// `outer(x, x, "+")`, and j = n - 1 - k >= i keeps the first n - i columns.
    pub(crate) fn walsh(xs: &'a [f64], negated: &'a [f64]) -> Self {
        Self {
            triangle: true,
            ..Self::new(xs, negated)
        }
    }

    /// The number of columns row i holds.
    fn row_end(&self, i: usize) -> usize {
        if self.triangle {
            self.ys.len().saturating_sub(i)
        } else {
            self.ys.len()
        }
    }

    /// With tiny floors, so that a handful of differences goes through sampled rounds.
    #[cfg(test)]
    fn with_floors(xs: &'a [f64], ys: &'a [f64], gather_floor: u64, sample_floor: usize) -> Self {
        Self {
            xs,
            ys,
            gather_floor,
            sample_floor,
            gather_per_point: 0,
            triangle: false,
        }
    }

    /// [`Self::walsh`] with tiny floors.
    #[cfg(test)]
    fn walsh_with_floors(
        xs: &'a [f64],
        negated: &'a [f64],
        gather_floor: u64,
        sample_floor: usize,
    ) -> Self {
        Self {
            triangle: true,
            ..Self::with_floors(xs, negated, gather_floor, sample_floor)
        }
    }

    /// The number of differences, n * m (n (n + 1) / 2 Walsh sums).
    pub(crate) fn len(&self) -> u64 {
        let (n, m) = (self.xs.len() as u64, self.ys.len() as u64);
        if self.triangle {
            n * (n + 1) / 2
        } else {
            n * m
        }
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

    /// `#{(i, j) : x[i] - y[j] <= v}` over the cells held, for v up to the largest difference
    /// (the counting pass on the whole matrix).
    #[cfg(test)]
    fn count_le(&self, v: f64) -> u64 {
        self.cut_pair(&Band::full(self), v, v).0.count
    }

    /// The k-th smallest difference, 1-based; k is clamped to 1..=n*m.
    #[cfg(test)]
    pub(crate) fn kth_smallest(&self, k: u64) -> f64 {
        self.select(&[k])[0]
    }

    /// For each k (1-based, clamped to 1..=n*m) the k-th smallest difference, all in shared
    /// rounds.
    pub(crate) fn select(&self, ks: &[u64]) -> Vec<f64> {
        let nm = self.len();
        let mut out = vec![f64::NAN; ks.len()];
        if nm == 0 {
            return out;
        }
        let mut targets: Vec<Target> = ks
            .iter()
            .enumerate()
            .map(|(slot, &k)| Target {
                k: k.clamp(1, nm),
                slot,
            })
            .collect();
        targets.sort_unstable_by_key(|t| t.k);
        if Column::try_from(self.ys.len()).is_err() {
            for t in &targets {
                out[t.slot] = self.kth_by_bisection(t.k);
            }
            return out;
        }
        self.select_in(Band::full(self), &targets, 0, &mut out);
        out
    }

    /// The most differences gathered and selected directly.
    fn gather_limit(&self) -> u64 {
        (self.gather_per_point * (self.xs.len() + self.ys.len()) as u64).max(self.gather_floor)
    }

    /// The sample size of a round over `total` differences: enough for a band of about the
    /// gather limit around a target even with margins of three standard deviations of a
    /// sample quantile (so that the last round rarely leaves more than the limit), at most a
    /// quarter of n + m.
    fn sample_size(&self, total: u64) -> usize {
        let ratio = total as f64 / self.gather_limit() as f64;
        let wanted = 2.0 * 9.0 * ratio * ratio;
        let cap = ((self.xs.len() + self.ys.len()) / 4).max(self.sample_floor);
        (wanted.min(cap as f64) as usize).max(self.sample_floor)
    }

    /// Answers `targets` (sorted by k, every k within the band's counts) from `band`.
    fn select_in(&self, band: Band, targets: &[Target], round: usize, out: &mut [f64]) {
        if targets.is_empty() {
            return;
        }
        if band.total() <= self.gather_limit() {
            return self.gather(&band, targets, out);
        }
        if round >= MAX_ROUNDS {
            #[cfg(test)]
            FALLBACKS.with(|f| f.set(f.get() + 1));
            for t in targets {
                out[t.slot] = self.kth_by_bisection(t.k);
            }
            return;
        }
        let pivots = self.pivots(&band, targets, round);
        let cuts = self.cuts(&band, &pivots);
        // Each target goes to the part between two consecutive cuts (or the band's ends)
        // whose counts bracket its k: cut g - 1 below it, cut g above it.
        let mut start = 0usize;
        while start < targets.len() {
            let g = cuts.partition_point(|c| c.count < targets[start].k);
            let end = start
                + targets[start..]
                    .iter()
                    .take_while(|t| cuts.partition_point(|c| c.count < t.k) == g)
                    .count();
            let group = &targets[start..end];
            start = end;
            let (lo, count_lo, first_le_lo) = match g.checked_sub(1).map(|i| &cuts[i]) {
                Some(c) => (Some(c.value), c.count, Rc::clone(&c.firsts)),
                None => (band.lo, band.count_lo, Rc::clone(&band.first_le_lo)),
            };
            let (hi, count_hi, first_le_hi) = match cuts.get(g) {
                Some(c) => (c.value, c.count, Rc::clone(&c.firsts)),
                None => (band.hi, band.count_hi, Rc::clone(&band.first_le_hi)),
            };
            let part = Band {
                lo,
                count_lo,
                first_le_lo,
                hi,
                count_hi,
                first_le_hi,
            };
            if part.total() == band.total() {
                // Every pivot equals hi and hi repeats from these ranks up.
                self.split_top(part, group, round, out);
            } else {
                self.select_in(part, group, round + 1, out);
            }
        }
    }

    /// The band's top value `hi` holds every pivot and repeats from the targets up: the
    /// answer is `hi` for the targets among its copies; the others go on without them.
    fn split_top(&self, band: Band, targets: &[Target], round: usize, out: &mut [f64]) {
        let hi = band.hi;
        // The largest value below hi: the next key down, twice for a zero (-0.0 == +0.0, so
        // counting at -0.0 would drop nothing).
        let mut key = order_key(hi).wrapping_sub(1);
        if from_order_key(key) == hi {
            key = key.wrapping_sub(1);
        }
        let below = from_order_key(key);
        let all_copies = hi == f64::NEG_INFINITY || band.lo.is_some_and(|lo| below <= lo);
        let cut = (!all_copies).then(|| self.cuts(&band, &[below]).remove(0));
        let count_below = cut.as_ref().map_or(band.count_lo, |c| c.count);
        let split = targets.partition_point(|t| t.k <= count_below);
        for t in &targets[split..] {
            out[t.slot] = hi + 0.0;
        }
        if let Some(cut) = cut {
            let part = Band {
                hi: cut.value,
                count_hi: cut.count,
                first_le_hi: cut.firsts,
                ..band
            };
            self.select_in(part, &targets[..split], round + 1, out);
        }
    }

    /// Pivots for a round, ascending and distinct: for each target the sample's order
    /// statistics [`MARGIN_SDS`] standard deviations of a sample quantile below and above the
    /// target's expected place in the sample.
    fn pivots(&self, band: &Band, targets: &[Target], round: usize) -> Vec<f64> {
        let total = band.total();
        let mut sample = self.sample(band, self.sample_size(total), round);
        let size = sample.len();
        // Targets whose intervals overlap share the lowest and the highest of their pivots.
        let mut ranks: Vec<usize> = Vec::with_capacity(2 * targets.len());
        let mut open: Option<(f64, f64)> = None;
        let close = |ranks: &mut Vec<usize>, (below, above): (f64, f64)| {
            if below >= 0.0 {
                ranks.push(below as usize);
            }
            if above < size as f64 {
                ranks.push(above as usize);
            }
        };
        for t in targets {
            let q = ((t.k - band.count_lo) as f64 - 0.5) / total as f64;
            let centre = q * size as f64;
            let margin = MARGIN_SDS * (size as f64 * q * (1.0 - q)).sqrt() + 2.0;
            let (below, above) = ((centre - margin).floor(), (centre + margin).ceil());
            open = match open {
                Some((lo, hi)) if below <= hi => Some((lo, hi.max(above))),
                Some(done) => {
                    close(&mut ranks, done);
                    Some((below, above))
                }
                None => Some((below, above)),
            };
        }
        if let Some(done) = open {
            close(&mut ranks, done);
        }
        if ranks.is_empty() {
            ranks.push(size / 2);
        }
        ranks.sort_unstable();
        ranks.dedup();
        // Select from the largest rank down, each within the part below the previous one.
        let mut values = vec![0.0; ranks.len()];
        let mut upto = size;
        for (slot, &rank) in ranks.iter().enumerate().rev() {
            let (_, v, _) = sample[..upto].select_nth_unstable_by(rank, f64::total_cmp);
            values[slot] = *v;
            upto = rank;
        }
        values.dedup_by(|a, b| a == b);
        values
    }

    /// A stratified sample of the band: its differences in row-major order cut into `size`
    /// equal strata, one drawn from each by a fixed-seed generator (random columns, so that no
    /// column pattern shared by the rows biases the sample).
    fn sample(&self, band: &Band, size: usize, round: usize) -> Vec<f64> {
        let total = band.total();
        let size = (size.max(1) as u64).min(total.max(1));
        let mut state =
            0x243f_6a88_85a3_08d3u64 ^ (round as u64).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        // Stratum t is [t * total / size, (t + 1) * total / size): its start is stepped by
        // quotient and remainder (no division per draw).
        let (step, extra) = (total / size, total % size);
        let (mut start, mut carry) = (0u64, 0u64);
        let mut position = || {
            let mut end = start + step;
            carry += extra;
            if carry >= size {
                carry -= size;
                end += 1;
            }
            state = splitmix64(state);
            let at = start + ((u128::from(state) * u128::from(end - start)) >> 64) as u64;
            start = end;
            at
        };
        let mut out = Vec::with_capacity(size as usize);
        let mut next = position();
        let mut row_start = 0u64;
        for (i, &x) in self.xs.iter().enumerate() {
            let (a, b) = (band.first_le_hi[i] as usize, band.first_le_lo[i] as usize);
            let row_end = row_start + b.saturating_sub(a) as u64;
            while next < row_end {
                out.push(x - self.ys[a + (next - row_start) as usize]);
                if out.len() as u64 == size {
                    return out;
                }
                next = position();
            }
            row_start = row_end;
        }
        out
    }

    /// Exact counts at each value of `values` (ascending, each inside the band), with the
    /// first columns per row, in one pass over the band.
    fn cuts(&self, band: &Band, values: &[f64]) -> Vec<Cut> {
        // Two values a pass: the row's x, ends and loop are shared (~10% faster than one pass
        // each, measured at 10^4 .. 10^6).
        let mut out = Vec::with_capacity(values.len());
        for pair in values.chunks(2) {
            match *pair {
                [lo, hi] => {
                    let (lo, hi) = self.cut_pair(band, lo, hi);
                    out.push(lo);
                    out.push(hi);
                }
                // An odd one out (a single value: the repeated-top split) is counted twice.
                [value] => out.push(self.cut_pair(band, value, value).0),
                _ => {}
            }
        }
        out
    }

    /// The exact counts at `lo <= hi` (both inside the band) and their first columns per row,
    /// in one pass.
    fn cut_pair(&self, band: &Band, lo: f64, hi: f64) -> (Cut, Cut) {
        let n = self.xs.len();
        let (mut firsts_lo, mut firsts_hi) = (Vec::with_capacity(n), Vec::with_capacity(n));
        let (mut count_lo, mut count_hi) = (0u64, 0u64);
        let (mut first_lo, mut first_hi) = (0usize, 0usize);
        let rows = self
            .xs
            .iter()
            .zip(band.first_le_hi.iter().zip(band.first_le_lo.iter()));
        for (i, (&x, (&a, &b))) in rows.enumerate() {
            let (a, b) = (a as usize, b as usize);
            // The first column with d <= v never moves left as x grows (a row's end only
            // shortens it) and lies between the band's columns for hi and lo; in a row,
            // d <= lo starts no earlier than d <= hi.
            first_hi = self.first_le(x, hi, first_hi.max(a).min(b), b);
            first_lo = self.first_le(x, lo, first_lo.max(first_hi).min(b), b);
            firsts_lo.push(first_lo as Column);
            firsts_hi.push(first_hi as Column);
            let end = self.row_end(i);
            count_lo += (end - first_lo) as u64;
            count_hi += (end - first_hi) as u64;
        }
        let cut = |value, count, firsts| Cut {
            value,
            count,
            firsts: Rc::new(firsts),
        };
        (cut(lo, count_lo, firsts_lo), cut(hi, count_hi, firsts_hi))
    }

    /// The first column j in `from..to` with `x - y[j] <= v`, or `to`; the columns before
    /// `from` are known to give more than `v`. Four columns at a time without a branch per
    /// column: along a row the test is true up to the answer and false from it on.
    #[inline]
    fn first_le(&self, x: f64, v: f64, from: usize, to: usize) -> usize {
        let ys = self.ys;
        let mut first = from;
        while first + 4 <= to {
            let block = &ys[first..first + 4];
            let above = usize::from(x - block[0] > v)
                + usize::from(x - block[1] > v)
                + usize::from(x - block[2] > v)
                + usize::from(x - block[3] > v);
            first += above;
            if above < 4 {
                return first;
            }
        }
        while first < to && x - ys[first] > v {
            first += 1;
        }
        first
    }

    /// Every live difference of the band, selected at each target.
    fn gather(&self, band: &Band, targets: &[Target], out: &mut [f64]) {
        let mut inside = self.live(band);
        // Ascending targets: everything left of a selected place is at most its value, so the
        // next target selects in the part from there on.
        let mut from = 0usize;
        for t in targets {
            let rank = (t.k - band.count_lo - 1) as usize;
            if rank < from || rank >= inside.len() {
                // Unreachable: the band holds count_hi - count_lo > rank differences.
                out[t.slot] = self.kth_by_bisection(t.k);
                continue;
            }
            let (_, kth, _) = inside[from..].select_nth_unstable_by(rank - from, f64::total_cmp);
            out[t.slot] = *kth + 0.0;
            from = rank;
        }
    }

    /// Every live difference of the band, in no order.
    fn live(&self, band: &Band) -> Vec<f64> {
        let mut inside = Vec::with_capacity(band.total() as usize);
        for (i, &x) in self.xs.iter().enumerate() {
            let (a, b) = (band.first_le_hi[i] as usize, band.first_le_lo[i] as usize);
            inside.extend(self.ys[a.min(b)..b].iter().map(|&y| x - y));
        }
        inside
    }

    /// The k-th smallest difference by bisection over the order of `f64` (at most 64 passes),
    /// narrowing a band with the same counting pass as the sampled rounds.
    fn kth_by_bisection(&self, k: u64) -> f64 {
        let k = k.clamp(1, self.len().max(1));
        let mut band = Band::full(self);
        // Keys (lo, hi] bracket the k-th difference: the band's bounds. lo starts just below
        // the smallest difference (no lower bound; a key of 0 is below -inf).
        let mut lo = order_key(self.min()).saturating_sub(1);
        let mut hi = order_key(self.max());
        while hi - lo > 1 {
            if band.total() <= self.gather_limit() {
                // Once few differences remain in the band, gathering them beats more passes.
                let mut inside = self.live(&band);
                let rank = (k - band.count_lo - 1) as usize;
                if rank < inside.len() {
                    let (_, kth, _) = inside.select_nth_unstable_by(rank, f64::total_cmp);
                    return *kth + 0.0;
                }
                // Unreachable: the band holds count_hi - count_lo > rank differences.
                break;
            }
            let mid = lo + (hi - lo) / 2;
            let value = from_order_key(mid);
            let (cut, _) = self.cut_pair(&band, value, value);
            if cut.count >= k {
                (hi, band.hi, band.count_hi, band.first_le_hi) =
                    (mid, value, cut.count, cut.firsts);
            } else {
                (lo, band.lo, band.count_lo, band.first_le_lo) =
                    (mid, Some(value), cut.count, cut.firsts);
            }
        }
        from_order_key(hi) + 0.0
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
mod rounds {
    use super::{PairwiseDifferences, FALLBACKS};

    /// Tie-heavy samples (values rounded to a grid, zero differences by the thousand, both
    /// signed zeros) finish in sampled rounds: no fallback to bisection. A zero at the top of
    /// a band once made every round count at -0.0, which equals +0.0, and so never shrink.
    #[test]
    fn tied_samples_need_no_bisection() {
        let grid = |len: usize, seed: u64, scale: f64| -> Vec<f64> {
            let mut state = seed;
            let mut v: Vec<f64> = (0..len)
                .map(|_| {
                    state = state
                        .wrapping_mul(6_364_136_223_846_793_005)
                        .wrapping_add(1_442_695_040_888_963_407);
                    let u = ((state >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
                    ((0.2 - 0.02 * u.ln()) * scale).round() / scale
                })
                .collect();
            v.sort_by(f64::total_cmp);
            v
        };
        for (len, scale) in [
            (361, 1.0),
            (361, 10.0),
            (361, 100.0),
            (5000, 10.0),
            (5000, 1000.0),
        ] {
            let (xs, ys) = (grid(len, 1, scale), grid(len, 2, scale));
            let nm = (len * len) as u64;
            let ks = [1, nm / 4, nm / 2, nm / 2 + 1, 3 * nm / 4, nm];
            FALLBACKS.with(|f| f.set(0));
            let got = PairwiseDifferences::new(&xs, &ys).select(&ks);
            let negated: Vec<f64> = xs.iter().rev().map(|v| -v).collect();
            let walsh = PairwiseDifferences::walsh(&xs, &negated);
            let total = walsh.len();
            let walsh_ks = [1, total / 2, total / 2 + 1, total];
            let walsh_got = walsh.select(&walsh_ks);
            assert_eq!(FALLBACKS.with(|f| f.get()), 0, "len {len}, grid 1/{scale}");
            let d = PairwiseDifferences::new(&xs, &ys);
            for (&k, &v) in ks.iter().zip(&got) {
                assert_eq!(v, d.kth_by_bisection(k), "k = {k}");
            }
            for (&k, &v) in walsh_ks.iter().zip(&walsh_got) {
                assert_eq!(v, walsh.kth_by_bisection(k), "Walsh k = {k}");
            }
        }
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

        /// Through sampled rounds (tiny gather limit and samples): every rank at once, and
        /// each rank alone.
        #[test]
        fn sampled_rounds_match_sorting(
            mut xs in sample(),
            mut ys in sample(),
            gather in 1u64..6,
            size in 1usize..12,
        ) {
            xs.sort_by(f64::total_cmp);
            ys.sort_by(f64::total_cmp);
            let all = brute_force(&xs, &ys);
            let d = PairwiseDifferences::with_floors(&xs, &ys, gather, size);
            let ks: Vec<u64> = (1..=all.len() as u64).rev().collect();
            let together = d.select(&ks);
            for (&k, &kth) in ks.iter().zip(&together) {
                prop_assert_eq!(kth, all[k as usize - 1] + 0.0, "k = {}", k);
                prop_assert_eq!(d.select(&[k])[0], kth, "alone, k = {}", k);
                prop_assert_eq!(d.kth_by_bisection(k), kth, "bisection, k = {}", k);
            }
            // Repeated and out-of-range ranks are clamped.
            let edge = d.select(&[0, 0, u64::MAX]);
            prop_assert_eq!(edge, vec![all[0] + 0.0, all[0] + 0.0, all[all.len() - 1] + 0.0]);
        }

        /// Walsh sums x[i] + x[j], i <= j: every rank, through sampled rounds and directly,
        /// and the counts, against all sums sorted.
        #[test]
        fn walsh_sums_match_sorting(
            mut xs in sample(),
            gather in 1u64..6,
            size in 1usize..12,
        ) {
            xs.sort_by(f64::total_cmp);
            let negated: Vec<f64> = xs.iter().rev().map(|v| -v).collect();
            let mut all: Vec<f64> = (0..xs.len())
                .flat_map(|i| (i..xs.len()).map(move |j| (i, j)))
                .map(|(i, j)| xs[i] + xs[j])
                .collect();
            all.sort_by(f64::total_cmp);
            let direct = PairwiseDifferences::walsh(&xs, &negated);
            let rounds = PairwiseDifferences::walsh_with_floors(&xs, &negated, gather, size);
            prop_assert_eq!(direct.len(), all.len() as u64);
            let ks: Vec<u64> = (1..=all.len() as u64).collect();
            let want: Vec<f64> = all.iter().map(|v| v + 0.0).collect();
            prop_assert_eq!(direct.select(&ks), want.clone());
            prop_assert_eq!(rounds.select(&ks), want);
            for (i, &v) in all.iter().enumerate() {
                let count = all.iter().filter(|&&w| w <= v).count() as u64;
                prop_assert_eq!(direct.count_le(v), count);
                // The bisection that takes over after too many rounds.
                prop_assert_eq!(rounds.kth_by_bisection(i as u64 + 1), v + 0.0);
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
