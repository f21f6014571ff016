//! canaryd: automated canary analysis.
//!
//! Data flows one way, one folder a step:
//!
//! * [`template`]: analysis templates (YAML) become typed [`template::Template`] values, with
//!   errors that name the file, line, column and field.
//! * [`source`]: metric sources (recorded data today) yield baseline and canary series.
//! * [`stats`]: pure statistics, no I/O: Mann-Whitney U with the Hodges-Lehmann interval as R's
//!   `wilcox.test` computes it, descriptive statistics, percentiles, outlier fences.
//! * [`judge`]: classifies each metric, scores groups, makes the verdict and says why.
//!
//! The binary (`src/main.rs`) only parses the command line, loads [`config`], sets up
//! [`telemetry`] and calls into these modules.

pub mod analysis;
pub mod config;
pub mod judge;
pub mod source;
pub mod stats;
pub mod telemetry;
pub mod template;
