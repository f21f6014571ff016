//! Percentiles by R's default definition, `quantile(x, p, type = 7)` (Hyndman and Fan's
//! definition 7, also NumPy's default "linear"): with h = (n - 1) p, the value
//! x[floor h] + (h - floor h) (x[floor h + 1] - x[floor h]) of the sorted sample.
//! Tested against R to 1e-12 relative.

/// The `p`-quantile (0 <= p <= 1) of an ascending `sorted` sample; `None` when it is empty or
/// `p` is outside [0, 1].
pub fn percentile_sorted(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() || !(0.0..=1.0).contains(&p) {
        return None;
    }
    let h = (sorted.len() - 1) as f64 * p;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    let frac = h - lo as f64;
    let (a, b) = (sorted[lo], sorted[hi]);
    // R computes (1 - frac) * a + frac * b only when the two differ: keep equal values exact.
    Some(if a == b { a } else { a + frac * (b - a) })
}

/// A copy of `sample` in ascending order (total order: NaN sorts last), radix-sorted when
/// large (the same bits as `sort_unstable_by(f64::total_cmp)`: values equal under the total
/// order are the same bits, so no stability is lost).
pub fn sorted(sample: &[f64]) -> Vec<f64> {
    super::radix::sorted(sample)
}

/// [`percentile`] by selection instead of a sort, O(n): the same value (the two order
/// statistics it interpolates between are the same whichever way they are found).
pub fn percentile_selected(sample: &[f64], p: f64) -> Option<f64> {
    if sample.is_empty() || !(0.0..=1.0).contains(&p) {
        return None;
    }
    let mut copy = sample.to_vec();
    let h = (copy.len() - 1) as f64 * p;
    let lo = h.floor() as usize;
    let frac = h - lo as f64;
    let (_, &mut a, above) = copy.select_nth_unstable_by(lo, f64::total_cmp);
    let b = above.iter().copied().min_by(f64::total_cmp).unwrap_or(a);
    Some(if a == b { a } else { a + frac * (b - a) })
}

/// The `p`-quantile of an unsorted sample.
pub fn percentile(sample: &[f64], p: f64) -> Option<f64> {
    percentile_sorted(&sorted(sample), p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_r_type_7() {
        // R: quantile(c(1, 2, 3, 4, 10), c(0, .1, .25, .5, .75, .99, 1))
        //    1.00 1.40 2.00 3.00 4.00 9.76 10.00
        let x = [4.0, 1.0, 10.0, 3.0, 2.0];
        let want = [
            (0.0, 1.0),
            (0.1, 1.4),
            (0.25, 2.0),
            (0.5, 3.0),
            (0.75, 4.0),
            (0.99, 9.76),
            (1.0, 10.0),
        ];
        for (p, q) in want {
            let got = percentile(&x, p).unwrap();
            assert!((got - q).abs() <= 1e-12 * q.abs(), "p={p}: {got} != {q}");
        }
    }

    #[test]
    fn selection_equals_sorting() {
        let x: Vec<f64> = (0..1001).map(|i| f64::from(i * 37 % 101) * 0.37).collect();
        for len in [1, 2, 3, 10, 1000, 1001] {
            for p in [0.0, 0.01, 0.25, 0.5, 0.9, 0.99, 1.0] {
                let (a, b) = (percentile(&x[..len], p), percentile_selected(&x[..len], p));
                assert_eq!(a.map(f64::to_bits), b.map(f64::to_bits), "len {len} p {p}");
            }
        }
        assert_eq!(percentile_selected(&[], 0.5), None);
    }

    #[test]
    fn empty_and_out_of_range() {
        assert_eq!(percentile(&[], 0.5), None);
        assert_eq!(percentile(&[1.0], 1.5), None);
        assert_eq!(percentile(&[7.0], 0.3), Some(7.0));
    }
}
