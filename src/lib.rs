//! canaryd: automated canary analysis.
//!
//! Data flows one way, one folder a step:
//!
//! * [`template`]: analysis templates (YAML) become typed [`template::Template`] values, with
//!   errors that name the file, line, column and field.
//! * [`observation`]: one metric's two series as the judge receives them.
//! * [`source`]: metric sources (Prometheus, InfluxDB, Graphite, Datadog, recorded files) yield
//!   baseline and canary series on the window's step grid, as [`source::Observation`]s.
//! * [`stats`]: pure statistics, no I/O, each checked against R: Mann-Whitney U with the
//!   Hodges-Lehmann interval (`wilcox.test`), Poisson rates (`poisson.test`), Fisher's exact test,
//!   Fligner-Killeen, descriptive statistics, percentiles, outlier fences.
//! * [`judge`]: classifies each metric, scores groups, makes the verdict and says why.
//! * [`analysis`]: one live judgment end to end: render the queries for both scopes (each value
//!   escaped for where it sits), fetch within the judgment's deadline, judge.
//! * [`service`]: the domain layer the API, gates and scheduler share: resolve the template,
//!   take or fetch the points, judge, store the record; gate summaries.
//! * [`store`]: sqlx persistence on SQLite or PostgreSQL (judgments, templates, analyses,
//!   deliveries, schedules; readiness proves a committed write).
//! * [`api`]: actix-web routes over the service, each with the role it needs; Flagger and Argo
//!   gates; the one table from errors to statuses and codes.
//! * [`scheduler`]: durable multi-interval analyses, recurring checks and signed callbacks,
//!   claimed through leases so that a killed process loses and repeats nothing.
//! * [`html`], [`telemetry`]: report pages; logs and Prometheus metrics.
//!
//! The binary (`src/main.rs`) only parses the command line, loads [`config`], sets up
//! [`telemetry`] and calls into these modules.

#![warn(missing_docs)]

pub mod analysis;
pub mod api;
pub mod config;
pub mod html;
pub mod judge;
pub mod observation;
pub mod scheduler;
pub mod service;
pub mod source;
pub mod stats;
pub mod store;
pub mod telemetry;
pub mod template;
