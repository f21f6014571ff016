//! The one integration-test binary: one module per area.

mod analyses;
mod api;
mod cli;
mod durability;
mod fuzz;
mod grafana;
mod integrations;
mod judge_extra;
mod judge_metrics;
mod live_judge;
mod pages;
mod scoring;
mod sources;
mod stats_judges;
mod stats_more;
mod stats_paired;
mod stats_properties;
mod stats_reference;
mod support;
mod templates;
