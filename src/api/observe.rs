//! Every request gets an id (the caller's `X-Request-Id` when it is sane, else a new UUIDv7),
//! echoed in the response, carried by the request's tracing span (so every log line of the
//! request has it) and stored with any judgment it makes; one structured log line and the HTTP
//! metrics per request.

use std::future::{ready, Ready};
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use tracing::Instrument;

use crate::telemetry::metrics;

/// The request's id.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

impl FromRequest for RequestId {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let id = req
            .extensions()
            .get::<RequestId>()
            .cloned()
            .unwrap_or_else(|| RequestId(uuid::Uuid::now_v7().to_string()));
        ready(Ok(id))
    }
}

fn sane(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
}

/// The middleware.
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody + 'static>, actix_web::Error> {
    let started = Instant::now();
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| sane(v))
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    req.extensions_mut().insert(RequestId(id.clone()));
    let method = req.method().to_string();
    let path = req.path().to_string();
    let span = tracing::info_span!("request", request_id = %id, method = %method, path = %path);
    let result = next.call(req).instrument(span.clone()).await;
    let took = started.elapsed();
    let _enter = span.enter();
    match result {
        Ok(mut response) => {
            let status = response.status().as_u16();
            let route = response
                .request()
                .match_pattern()
                .unwrap_or_else(|| "(unmatched)".into());
            if let Ok(v) = HeaderValue::from_str(&id) {
                response
                    .headers_mut()
                    .insert(HeaderName::from_static("x-request-id"), v);
            }
            let m = metrics::global();
            let status_s = status.to_string();
            m.inc(
                "canaryd_http_requests_total",
                &[
                    ("method", &method),
                    ("route", &route),
                    ("status", &status_s),
                ],
                1.0,
            );
            m.observe(
                "canaryd_http_request_duration_seconds",
                &[("method", &method), ("route", &route)],
                took.as_secs_f64(),
            );
            let caller = response
                .request()
                .extensions()
                .get::<super::auth::Caller>()
                .map(|c| c.name.clone());
            tracing::info!(
                status,
                route = %route,
                caller = caller.as_deref().unwrap_or("-"),
                duration_ms = took.as_secs_f64() * 1000.0,
                "request"
            );
            Ok(response)
        }
        Err(e) => {
            tracing::warn!(error = %e, duration_ms = took.as_secs_f64() * 1000.0, "request failed");
            Err(e)
        }
    }
}
