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
//! * [`service`]: the domain layer the API, gates and scheduler share: judgments (resolve the
//!   template, take or fetch the points, judge, store the record; gate summaries), the one live
//!   fetch (queries rendered and escaped for both scopes, fetched within the deadline),
//!   analyses and schedules (checked, planned, stored, cancelled), every callback body.
//! * [`store`]: sqlx persistence on SQLite or PostgreSQL (judgments, templates, analyses,
//!   deliveries, schedules; readiness proves a committed write).
//! * [`api`]: actix-web routes, thin over the service, each with the role it needs; Flagger and
//!   Argo gates; the answer of every error.
//! * [`scheduler`]: the background workers of durable multi-interval analyses, recurring checks
//!   and signed callbacks, claimed through leases so that a killed process loses and repeats
//!   nothing.
//! * [`startup`]: building the service: store, template files, listener, routes, workers.
//! * [`html`], [`telemetry`]: report pages; logs and Prometheus metrics.
//!
//! [`error`] is the one table of error codes, each with its HTTP status; [`clock`] the one
//! source of "now", injected at startup (tests move a manual one).
//!
//! The binary (`src/main.rs`) only parses the command line, loads [`config`], sets up
//! [`telemetry`] and calls into these modules.

#![warn(missing_docs)]

pub mod api;
pub mod clock;
pub mod config;
pub mod error;
pub mod html;
pub mod judge;
pub mod observation;
pub mod scheduler;
pub mod service;
pub mod source;
pub mod startup;
pub mod stats;
pub mod store;
pub mod telemetry;
pub mod template;
