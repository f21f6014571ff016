//! The states and verdicts the store keeps as text, each with its text in this one place:
//! where an analysis is ([`AnalysisState`]), what an interval or an analysis concluded
//! ([`Verdict`]), where a callback's delivery is ([`DeliveryState`], read from its
//! timestamps). Rows carry the enums; the API and the pages show their names.

use serde::Serialize;

use super::StoreError;

/// The states that still have intervals to judge, as an SQL list (`state IN ...`).
pub const OPEN_STATES: &str = "('pending', 'running')";

/// Where an analysis is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AnalysisState {
    /// Created; no interval judged yet.
    Pending,
    /// Some intervals judged, more to come.
    Running,
    /// Its last interval judged, or stopped by `stop_on_fail`.
    Completed,
    /// Cancelled by a `DELETE`.
    Cancelled,
}

impl AnalysisState {
    /// Every state, in its order of life.
    pub const ALL: [AnalysisState; 4] = [
        AnalysisState::Pending,
        AnalysisState::Running,
        AnalysisState::Completed,
        AnalysisState::Cancelled,
    ];

    /// The stored and shown name.
    pub fn as_str(self) -> &'static str {
        match self {
            AnalysisState::Pending => "pending",
            AnalysisState::Running => "running",
            AnalysisState::Completed => "completed",
            AnalysisState::Cancelled => "cancelled",
        }
    }

    /// The state named `text`, if any.
    pub fn parse(text: &str) -> Option<AnalysisState> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// True while intervals are still to be judged.
    pub fn is_open(self) -> bool {
        matches!(self, AnalysisState::Pending | AnalysisState::Running)
    }
}

impl std::fmt::Display for AnalysisState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an interval concluded: the judge's verdict, or `error` when no verdict could be made
/// (the source down after every try, the template gone). An analysis's verdict is its last
/// interval's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Score at or above the pass threshold.
    Pass,
    /// Score at or above the marginal threshold.
    Marginal,
    /// Anything else.
    Fail,
    /// No verdict could be made.
    Error,
}

impl Verdict {
    /// Every verdict.
    pub const ALL: [Verdict; 4] = [
        Verdict::Pass,
        Verdict::Marginal,
        Verdict::Fail,
        Verdict::Error,
    ];

    /// The stored and shown name.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Marginal => "marginal",
            Verdict::Fail => "fail",
            Verdict::Error => "error",
        }
    }

    /// The verdict named `text`, if any.
    pub fn parse(text: &str) -> Option<Verdict> {
        Self::ALL.into_iter().find(|v| v.as_str() == text)
    }
}

impl From<crate::judge::Verdict> for Verdict {
    fn from(v: crate::judge::Verdict) -> Self {
        match v {
            crate::judge::Verdict::Pass => Verdict::Pass,
            crate::judge::Verdict::Marginal => Verdict::Marginal,
            crate::judge::Verdict::Fail => Verdict::Fail,
        }
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a callback's delivery is: read from its `delivered_at` and `failed_at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryState {
    /// Not delivered yet; tried again until it expires.
    Pending,
    /// A 2xx answer came.
    Delivered,
    /// Given up: expired, or refused by the allow-list.
    Failed,
}

impl DeliveryState {
    /// The shown name.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
        }
    }
}

/// The value named by stored `text`, or an error naming `what` it should have been.
pub(super) fn decode<T>(
    text: &str,
    parse: impl Fn(&str) -> Option<T>,
    what: &str,
) -> Result<T, StoreError> {
    parse(text).ok_or_else(|| {
        StoreError::Unavailable(format!("{what}: unknown value '{text}' in the store"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_states_are_the_sql_list_of_the_open_ones() {
        let open: Vec<String> = AnalysisState::ALL
            .into_iter()
            .filter(|s| s.is_open())
            .map(|s| format!("'{s}'"))
            .collect();
        assert_eq!(OPEN_STATES, format!("({})", open.join(", ")));
    }

    #[test]
    fn names_round_trip() {
        for v in Verdict::ALL {
            assert_eq!(Verdict::parse(v.as_str()), Some(v));
            assert_eq!(serde_json::to_value(v).unwrap(), v.as_str());
        }
        for s in AnalysisState::ALL {
            assert_eq!(AnalysisState::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        for d in [
            DeliveryState::Pending,
            DeliveryState::Delivered,
            DeliveryState::Failed,
        ] {
            assert_eq!(serde_json::to_value(d).unwrap(), d.as_str());
        }
        assert_eq!(Verdict::from(crate::judge::Verdict::Fail), Verdict::Fail);
    }
}
