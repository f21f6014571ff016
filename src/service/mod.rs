//! The domain layer the REST API, the gates and the scheduler share; the routes stay thin
//! over it.
//!
//! * [`judgments`]: one judgment: resolve the template (stored by name, or inline), take the
//!   given points or fetch them live, judge, store the whole record, count it; gate summaries.
//! * [`live`]: the one live fetch: render the queries for both scopes (each value escaped for
//!   where it sits), fetch within the judgment's deadline.
//! * [`analyses`]: scheduled analyses and recurring checks: check, plan, store, cancel.
//! * [`plan`]: the interval windows and due times of an analysis (pure).
//! * [`callbacks`]: every callback body, built in one place.
//! * [`delivery`]: which callback destinations are allowed, the signature, one delivery try.
//! * [`error`]: why the service could not do what was asked.

pub mod analyses;
pub mod callbacks;
pub mod delivery;
pub mod error;
pub mod judgments;
pub mod live;
pub mod plan;

pub use error::ServiceError;
pub use judgments::{
    count, count_judgment, gate_judgment, judgment_of, make_judgment, make_kayenta_judgment,
    prepare_judgment, replay, resolve_template, sequence_judgment, stored_report,
    unknown_data_metrics, GateSequence, GateSummary, Judgment, JudgmentInput, Points, Prepared,
    TemplateRef, INLINE_LABEL,
};
