//! The one integration-test binary: shared helpers and one module per area.

mod stats_properties;
mod stats_reference;
