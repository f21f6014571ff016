//! TEMPORARY interface of the sequential statistics (replaced by the seq branch).

/// Spending function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Spending {
    /// Pocock-type.
    #[default]
    Pocock,
    /// O'Brien-Fleming-type.
    OBrienFleming,
}

/// α spent by information fraction `t`.
pub fn spent(spending: Spending, alpha: f64, t: f64) -> f64 {
    let t = t.clamp(0.0, 1.0);
    match spending {
        Spending::Pocock => alpha * (1.0 + (std::f64::consts::E - 1.0) * t).ln(),
        Spending::OBrienFleming => {
            if t <= 0.0 {
                0.0
            } else {
                2.0 * super::normal::pnorm_upper(
                    super::normal::qnorm(alpha / 2.0, false) / t.sqrt(),
                )
            }
        }
    }
}

/// Bonferroni levels.
pub fn bonferroni_levels(spending: Spending, alpha: f64, fractions: &[f64]) -> Vec<f64> {
    let mut prev = 0.0;
    fractions
        .iter()
        .map(|&t| {
            let s = spent(spending, alpha, t);
            let l = (s - prev).max(0.0);
            prev = s;
            l
        })
        .collect()
}

/// Exact boundaries (temporary: Bonferroni).
pub fn boundaries(spending: Spending, alpha: f64, fractions: &[f64]) -> Vec<f64> {
    bonferroni_levels(spending, alpha, fractions)
        .into_iter()
        .map(|l| super::normal::qnorm(l, false))
        .collect()
}

/// Open-ended level.
pub fn open_level(alpha: f64, look: usize) -> f64 {
    let k = look.max(1) as f64;
    alpha / (k * (k + 1.0))
}
