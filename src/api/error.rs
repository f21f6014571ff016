//! The answer of every error (CONTRACT §7: `{"error": {"code": "...", "message": "..."}}`):
//! each error's code and status come from the one table, [`crate::error::Code`].

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::error::Code;
use crate::service::ServiceError;
use crate::store::StoreError;
use crate::template::Diagnostic;

/// An error answered to an API caller.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The body or a parameter is not what the endpoint takes; `path` names the field.
    #[error("{message}")]
    BadRequest {
        /// Its row in the code table (a 400).
        code: Code,
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
    /// No route at that method and path.
    #[error("no route {method} {path}")]
    NoRoute {
        /// The request's method.
        method: String,
        /// The request's path.
        path: String,
    },
    /// The service failed.
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
            code: Code::InvalidRequest,
            message: format!("{path}: {}", message.into()),
            path: Some(path),
        }
    }

    /// Its row in the code table: the code and the status.
    pub fn code(&self) -> Code {
        match self {
            ApiError::BadRequest { code, .. } => *code,
            ApiError::PayloadTooLarge { .. } => Code::PayloadTooLarge,
            ApiError::Unauthorized(_) => Code::Unauthorized,
            ApiError::Forbidden(_) => Code::Forbidden,
            ApiError::NoRoute { .. } => Code::NotFound,
            ApiError::Service(e) => e.code(),
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
        StatusCode::from_u16(self.code().status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if status.is_server_error() {
            tracing::error!(code = self.code().name(), error = %self, "request failed");
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
                code: self.code().name().to_string(),
                message: self.to_string(),
                path,
                problems,
            },
        })
    }
}
