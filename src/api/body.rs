//! Request bodies: read up to `server.max_body_bytes`, parse JSON naming the path of a bad
//! field (`data.metrics.p99.baseline[2]: invalid type...`).

use actix_web::web;
use futures::StreamExt;
use serde::de::DeserializeOwned;

use super::error::ApiError;
use crate::error::Code;

/// Reads the whole body, refusing more than `limit` bytes.
pub async fn read(mut payload: web::Payload, limit: usize) -> Result<web::Bytes, ApiError> {
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::BadRequest {
            code: Code::InvalidBody,
            message: format!("cannot read the request body: {e}"),
            path: None,
        })?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// Parses JSON; a bad field is a 400 naming its path, line and column.
pub fn json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::BadRequest {
            code: Code::InvalidJson,
            message: "the request body is empty; a JSON object is expected".into(),
            path: None,
        });
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let mut path = if path == "." { String::new() } else { path };
        // serde names a missing field in its message only: make it part of the path.
        let text = inner.to_string();
        if let Some(rest) = text.strip_prefix("missing field `") {
            if let Some((field, _)) = rest.split_once('`') {
                path = if path.is_empty() {
                    field.to_string()
                } else {
                    format!("{path}.{field}")
                };
            }
        }
        if path.is_empty() {
            path = "(body)".into();
        }
        ApiError::BadRequest {
            code: Code::InvalidJson,
            message: format!("{path}: {inner}"),
            path: Some(path),
        }
    })?;
    de.end().map_err(|e| ApiError::BadRequest {
        code: Code::InvalidJson,
        message: format!("(body): {e}"),
        path: None,
    })?;
    Ok(value)
}

/// A query string parsed, or a 400 naming what is wrong with it.
pub fn query<T>(parsed: Result<actix_web::web::Query<T>, actix_web::Error>) -> Result<T, ApiError> {
    parsed
        .map(actix_web::web::Query::into_inner)
        .map_err(|e| ApiError::BadRequest {
            code: Code::InvalidQuery,
            message: format!("query string: {e}"),
            path: None,
        })
}
