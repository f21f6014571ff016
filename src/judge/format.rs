//! Number formatting for reasons and the text table: short, exact enough to act on.

/// A number with four significant digits, trailing zeros trimmed; scientific notation when it
/// is very large or very small.
pub fn num(v: f64) -> String {
    if !v.is_finite() {
        return if v.is_nan() {
            "NaN".into()
        } else if v > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        };
    }
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    if !(1e-4..1e6).contains(&a) {
        return format!("{v:.3e}");
    }
    let digits = (3 - a.log10().floor() as i32).max(0) as usize;
    let s = format!("{v:.digits$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// A ratio as "1.23x".
pub fn ratio(r: f64) -> String {
    format!("{}x", num(r))
}

/// `part` as a signed percentage of `whole` ("+10.5%"); `None` when `whole` is 0.
pub fn percent_of(part: f64, whole: f64) -> Option<String> {
    if whole == 0.0 || !whole.is_finite() {
        return None;
    }
    let p = part / whole.abs() * 100.0;
    Some(if p > 0.0 {
        format!("+{}%", num(p))
    } else {
        format!("{}%", num(p))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(num(0.0), "0");
        assert_eq!(num(0.123456), "0.1235");
        assert_eq!(num(123.456), "123.5");
        assert_eq!(num(-2.0), "-2");
        assert_eq!(num(1e-7), "1.000e-7");
        assert_eq!(num(95.0), "95");
        assert_eq!(ratio(1.5), "1.5x");
        assert_eq!(percent_of(0.02, 0.2).as_deref(), Some("+10%"));
        assert_eq!(percent_of(1.0, 0.0), None);
    }
}
