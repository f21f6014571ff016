//! Why the domain layer could not do what was asked. Each error maps to one code of the table
//! in [`crate::api::error`].

use crate::service::live::LiveError;
use crate::source::SourceError;
use crate::store::StoreError;
use crate::template::{Diagnostic, TemplateError};

/// Why a judgment, an analysis or a schedule could not be made. Each maps to one HTTP status
/// and code (`api::error`).
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// No stored template of that name (or version).
    #[error("no template named '{name}'{}", version.map(|v| format!(" with version {v}")).unwrap_or_default())]
    TemplateNotFound {
        /// Name.
        name: String,
        /// Version asked for.
        version: Option<i64>,
    },
    /// The template has problems.
    #[error("invalid template: {}", .0.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("; "))]
    InvalidTemplate(Vec<Diagnostic>),
    /// The request does not fit the template (data for metrics it lacks...).
    #[error("{0}")]
    BadInput(String),
    /// Arguments, source, window or fetch failed.
    #[error(transparent)]
    Live(#[from] LiveError),
    /// A field of the request is wrong (`field: why`).
    #[error("{field}: {message}")]
    Invalid {
        /// The field, as the request names it.
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// No analysis with that id.
    #[error("no analysis with id '{id}'")]
    AnalysisNotFound {
        /// The id asked for.
        id: String,
    },
    /// The request conflicts with the resource's state (an analysis already ended, a name
    /// taken).
    #[error("{0}")]
    Conflict(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ServiceError {
    /// A wrong field of the request.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> ServiceError {
        ServiceError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl From<TemplateError> for ServiceError {
    fn from(e: TemplateError) -> Self {
        match e {
            TemplateError::Invalid(d) => ServiceError::InvalidTemplate(d),
            other => ServiceError::BadInput(other.to_string()),
        }
    }
}

/// The stable error code of `e` (API bodies, metrics).
pub fn error_code(e: &ServiceError) -> &'static str {
    match e {
        ServiceError::TemplateNotFound { .. } => "template_not_found",
        ServiceError::InvalidTemplate(_) => "invalid_template",
        ServiceError::BadInput(_) => "invalid_request",
        ServiceError::Live(a) => match a {
            LiveError::Template { .. } => "invalid_arguments",
            LiveError::UnknownSource { .. } => "unknown_source",
            LiveError::Escape { .. } => "invalid_scope",
            LiveError::Source(s) => match s {
                SourceError::InvalidWindow(_) => "invalid_window",
                SourceError::Config { .. } => "source_config",
                SourceError::Unreachable { .. } | SourceError::Timeout { .. } => {
                    "source_unavailable"
                }
                SourceError::NothingRead { source_down, .. } if *source_down => {
                    "source_unavailable"
                }
                _ => "source_error",
            },
        },
        ServiceError::Invalid { .. } => "invalid_request",
        ServiceError::AnalysisNotFound { .. } => "analysis_not_found",
        ServiceError::Conflict(_) => "conflict",
        ServiceError::Store(_) => "store_error",
    }
}
