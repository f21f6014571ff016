//! The one table from errors to HTTP status and a stable `code` (CONTRACT §7:
//! `{"error": {"code": "...", "message": "..."}}`).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::service::{error_code, ServiceError};
use crate::store::StoreError;
use crate::template::Diagnostic;

/// An error answered to an API caller.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The body or a parameter is not what the endpoint takes; `path` names the field.
    #[error("{message}")]
    BadRequest {
        /// Stable code.
        code: &'static str,
        /// What is wrong, naming the field.
        message: String,
        /// JSON path of the bad field, when known.
        path: Option<String>,
    },
    /// The body is larger than `server.max_body_bytes`.
    #[error("request body larger than {limit} bytes")]
    PayloadTooLarge {
        /// The limit.
        limit: usize,
    },
    /// No or an unknown token.
    #[error("{0}")]
    Unauthorized(String),
    /// The token's role may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// Nothing at that id or name.
    #[error("{message}")]
    NotFound {
        /// Stable code.
        code: &'static str,
        /// What was not found.
        message: String,
    },
    /// The request conflicts with the resource's state (an analysis already ended, a name
    /// taken).
    #[error("{0}")]
    Conflict(String),
    /// The judgment service failed.
    #[error(transparent)]
    Service(#[from] ServiceError),
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::Service(ServiceError::Store(e))
    }
}

impl ApiError {
    /// A 400 for field `path`.
    pub fn bad(path: impl Into<String>, message: impl Into<String>) -> ApiError {
        let path = path.into();
        ApiError::BadRequest {
            code: "invalid_request",
            message: format!("{path}: {}", message.into()),
            path: Some(path),
        }
    }

    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest { code, .. } => code,
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound { code, .. } => code,
            ApiError::Conflict(_) => "conflict",
            ApiError::Service(e) => error_code(e),
        }
    }
}

/// The error body.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `invalid_request`, `template_not_found`.
    pub code: String,
    /// What is wrong, in plain words, naming the field.
    pub message: String,
    /// JSON path of the bad field, when one is to blame.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Every problem of an invalid template, with line, column and field.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub problems: Option<Vec<Diagnostic>>,
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        use crate::service::live::LiveError as A;
        use crate::source::SourceError as S;
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound { .. } => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Service(e) => match e {
                ServiceError::TemplateNotFound { .. } => StatusCode::NOT_FOUND,
                ServiceError::InvalidTemplate(_) | ServiceError::BadInput(_) => {
                    StatusCode::BAD_REQUEST
                }
                ServiceError::Live(a) => match a {
                    A::Template { .. } | A::UnknownSource { .. } | A::Escape { .. } => {
                        StatusCode::BAD_REQUEST
                    }
                    A::Source(S::InvalidWindow(_)) | A::Source(S::Escape { .. }) => {
                        StatusCode::BAD_REQUEST
                    }
                    A::Source(s) if s.is_timeout() => StatusCode::GATEWAY_TIMEOUT,
                    A::Source(_) => StatusCode::BAD_GATEWAY,
                },
                ServiceError::Invalid { .. } => StatusCode::BAD_REQUEST,
                ServiceError::AnalysisNotFound { .. } => StatusCode::NOT_FOUND,
                ServiceError::Conflict(_) => StatusCode::CONFLICT,
                ServiceError::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
            },
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if status.is_server_error() {
            tracing::error!(code = self.code(), error = %self, "request failed");
        }
        let (path, problems) = match self {
            ApiError::BadRequest { path, .. } => (path.clone(), None),
            ApiError::Service(ServiceError::InvalidTemplate(d)) => (None, Some(d.clone())),
            ApiError::Service(ServiceError::Invalid { field, .. }) => (Some(field.clone()), None),
            _ => (None, None),
        };
        let mut response = HttpResponse::build(status);
        if status == StatusCode::UNAUTHORIZED {
            response.insert_header(("WWW-Authenticate", "Bearer realm=\"canaryd\""));
        }
        response.json(ErrorBody {
            error: ErrorDetail {
                code: self.code().to_string(),
                message: self.to_string(),
                path,
                problems,
            },
        })
    }
}
