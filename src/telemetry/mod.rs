//! Tracing set-up, done once by the binary (logs go to stderr so that stdout carries only the
//! report), and the process's Prometheus metrics ([`metrics`]).

pub mod metrics;

use tracing_subscriber::{fmt, EnvFilter};

/// Installs the global subscriber: `RUST_LOG` when set, else `level`; `json` or text format.
/// A second call is a no-op.
pub fn init(level: &str, format: &str) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = if format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
