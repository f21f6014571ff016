//! Metric sources: where baseline and canary series come from.

pub mod recorded;
