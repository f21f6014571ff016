//! The one integration-test binary: one module per area.

mod analyses;
mod api;
mod auth;
mod callbacks;
mod cli;
mod deploy;
mod durability;
mod faults;
mod fuzz;
mod grafana;
mod integrations;
mod judge_extra;
mod judge_metrics;
mod live_judge;
mod outage;
mod pages;
mod scoring;
mod sources;
mod stats_judges;
mod stats_more;
mod stats_paired;
mod stats_properties;
mod stats_reference;
mod store_integrity;
mod support;
mod templates;
