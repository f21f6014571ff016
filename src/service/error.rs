//! Why the domain layer could not do what was asked. Each error has its row in the code table
//! ([`crate::error::Code`]); the scheduler's retry decision matches on these types.

use crate::error::Code;
use crate::service::live::LiveError;
use crate::source::SourceError;
use crate::store::StoreError;
use crate::template::{Diagnostic, TemplateError};

/// Why a judgment, an analysis or a schedule could not be made. Each has one row of the code
/// table ([`ServiceError::code`]).
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
    /// No judgment with that id.
    #[error("no judgment with id '{id}'")]
    JudgmentNotFound {
        /// The id asked for.
        id: String,
    },
    /// No schedule with that id or name.
    #[error("no schedule '{id}'")]
    ScheduleNotFound {
        /// The id or name asked for.
        id: String,
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

impl ServiceError {
    /// The error's row in the code table: its code and HTTP status.
    pub fn code(&self) -> Code {
        match self {
            ServiceError::TemplateNotFound { .. } => Code::TemplateNotFound,
            ServiceError::InvalidTemplate(_) => Code::InvalidTemplate,
            ServiceError::BadInput(_) | ServiceError::Invalid { .. } => Code::InvalidRequest,
            ServiceError::Live(e) => match e {
                LiveError::Template { .. } => Code::InvalidArguments,
                LiveError::UnknownSource { .. } => Code::UnknownSource,
                LiveError::Escape { .. } => Code::InvalidScope,
                LiveError::Source(s) => source_code(s),
            },
            ServiceError::JudgmentNotFound { .. } => Code::JudgmentNotFound,
            ServiceError::AnalysisNotFound { .. } => Code::AnalysisNotFound,
            ServiceError::ScheduleNotFound { .. } => Code::ScheduleNotFound,
            ServiceError::Conflict(_) => Code::Conflict,
            ServiceError::Store(_) => Code::StoreError,
        }
    }
}

/// The code of a source's failure: the request's fault (400), the source down (502, or 504
/// when nothing answered in time), or an answer the judgment cannot use.
fn source_code(s: &SourceError) -> Code {
    let down = match s {
        SourceError::InvalidWindow(_) => return Code::InvalidWindow,
        SourceError::Escape { .. } => return Code::SourceRefused,
        SourceError::Config { .. } => return Code::SourceConfig,
        SourceError::Unreachable { .. } | SourceError::Timeout { .. } => true,
        SourceError::NothingRead { source_down, .. } => *source_down,
        _ => false,
    };
    match (down, s.is_timeout()) {
        (true, true) => Code::SourceTimeout,
        (true, false) => Code::SourceUnavailable,
        (false, true) => Code::SourceDeadline,
        (false, false) => Code::SourceError,
    }
}
