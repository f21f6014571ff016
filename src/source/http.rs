//! The HTTP client every live backend shares: per-query timeout, bounded retries with
//! exponential backoff (5xx and timeouts retried, 4xx not), authentication and TLS options,
//! and error messages that never carry credentials.
//!
//! Options read from `[sources.NAME]` (all optional):
//! `bearer_token`, `username` + `password` (basic auth), `headers` (a table of extra headers),
//! `ca_file` (PEM, trusted in addition to the system roots), `insecure_skip_verify`,
//! `retry_attempts` (default 3), `retry_backoff_ms` (first delay, default 100),
//! `max_response_bytes` (the largest answer read for one query, default 16 MiB: the body is read
//! in chunks and reading stops at the limit, so an oversized answer costs no more memory than
//! that).

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION};
use reqwest::{StatusCode, Url};

use super::SourceError;
use crate::config::SourceSettings;

/// Default per-query timeout.
pub const DEFAULT_TIMEOUT_SECONDS: f64 = 10.0;

/// Default `max_response_bytes`: 16 MiB, some 40 series of 11,000 Prometheus points.
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 16 << 20;

/// A response body with its status, read whole.
pub(crate) struct Answer {
    pub status: StatusCode,
    pub body: Vec<u8>,
}

/// A configured client for one source.
pub(crate) struct HttpClient {
    client: reqwest::Client,
    base: Url,
    /// `base` without user info, for messages.
    display_url: String,
    headers: HeaderMap,
    timeout: Duration,
    attempts: u32,
    backoff: Duration,
    max_response_bytes: u64,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("url", &self.display_url)
            .field("timeout", &self.timeout)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

/// Reads option `key` as a string, if present.
pub(crate) fn opt_str(
    name: &str,
    settings: &SourceSettings,
    key: &str,
) -> Result<Option<String>, SourceError> {
    match settings.options.get(key) {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
        Some(serde_json::Value::Number(n)) => Ok(Some(n.to_string())),
        Some(_) => Err(config_error(name, format!("option {key} must be a string"))),
    }
}

fn opt_bool(name: &str, settings: &SourceSettings, key: &str) -> Result<bool, SourceError> {
    match settings.options.get(key) {
        None | Some(serde_json::Value::Null) => Ok(false),
        Some(serde_json::Value::Bool(b)) => Ok(*b),
        // Environment overrides arrive as strings.
        Some(serde_json::Value::String(s)) if s == "true" || s == "false" => Ok(s == "true"),
        Some(_) => Err(config_error(
            name,
            format!("option {key} must be true or false"),
        )),
    }
}

fn opt_u64(name: &str, settings: &SourceSettings, key: &str) -> Result<Option<u64>, SourceError> {
    match settings.options.get(key) {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::Number(n)) if n.as_u64().is_some() => Ok(n.as_u64()),
        Some(serde_json::Value::String(s)) if s.parse::<u64>().is_ok() => Ok(s.parse().ok()),
        Some(_) => Err(config_error(
            name,
            format!("option {key} must be a whole number"),
        )),
    }
}

pub(crate) fn config_error(name: &str, message: String) -> SourceError {
    SourceError::Config {
        name: name.to_string(),
        message,
    }
}

/// The URL as shown in messages: no user name or password, no query string.
pub(crate) fn redact_url(url: &Url) -> String {
    let mut shown = url.clone();
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.set_query(None);
    shown.as_str().trim_end_matches('/').to_string()
}

fn sensitive(name: &str, value: &str) -> Result<HeaderValue, SourceError> {
    let mut v = HeaderValue::from_str(value).map_err(|_| {
        config_error(
            name,
            "a credential or header value holds characters not allowed in HTTP headers".into(),
        )
    })?;
    v.set_sensitive(true);
    Ok(v)
}

impl HttpClient {
    /// A client for `settings.url` (or `default_url` when it is empty), with the generic
    /// options above plus `extra` headers chosen by the backend (e.g. API keys).
    pub fn new(
        name: &str,
        settings: &SourceSettings,
        default_url: Option<&str>,
        extra: Vec<(&'static str, String)>,
    ) -> Result<HttpClient, SourceError> {
        let raw = if settings.url.trim().is_empty() {
            default_url
                .ok_or_else(|| config_error(name, "url is required".into()))?
                .to_string()
        } else {
            settings.url.trim().to_string()
        };
        let mut base = Url::parse(&raw)
            .map_err(|e| config_error(name, format!("url is not a valid URL: {e}")))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(config_error(
                name,
                format!("url must be http or https, not {}", base.scheme()),
            ));
        }
        let mut headers = HeaderMap::new();
        // Credentials written in the URL become a basic auth header, never part of messages.
        let mut username = opt_str(name, settings, "username")?;
        let mut password = opt_str(name, settings, "password")?;
        if !base.username().is_empty() && username.is_none() {
            username = Some(base.username().to_string());
            password = password.or_else(|| base.password().map(str::to_string));
        }
        let _ = base.set_username("");
        let _ = base.set_password(None);
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        if let Some(token) = opt_str(name, settings, "bearer_token")? {
            headers.insert(AUTHORIZATION, sensitive(name, &format!("Bearer {token}"))?);
        } else if let Some(user) = username {
            use base64::Engine;
            let pair = format!("{user}:{}", password.unwrap_or_default());
            headers.insert(
                AUTHORIZATION,
                sensitive(
                    name,
                    &format!(
                        "Basic {}",
                        base64::engine::general_purpose::STANDARD.encode(pair.as_bytes())
                    ),
                )?,
            );
        }
        match settings.options.get("headers") {
            None | Some(serde_json::Value::Null) => {}
            Some(serde_json::Value::Object(map)) => {
                for (k, v) in map {
                    let key = HeaderName::from_bytes(k.as_bytes())
                        .map_err(|_| config_error(name, format!("header name {k:?} is invalid")))?;
                    let value = v.as_str().ok_or_else(|| {
                        config_error(name, format!("header {k} must have a string value"))
                    })?;
                    headers.insert(key, sensitive(name, value)?);
                }
            }
            Some(_) => return Err(config_error(name, "headers must be a table".into())),
        }
        for (k, v) in extra {
            headers.insert(HeaderName::from_static(k), sensitive(name, &v)?);
        }

        let timeout_seconds = settings.timeout_seconds.unwrap_or(DEFAULT_TIMEOUT_SECONDS);
        if !(timeout_seconds.is_finite() && timeout_seconds > 0.0) {
            return Err(config_error(
                name,
                "timeout_seconds must be a positive number".into(),
            ));
        }
        let timeout = Duration::from_secs_f64(timeout_seconds);
        let mut builder = reqwest::Client::builder()
            .connect_timeout(timeout)
            .pool_max_idle_per_host(64)
            .user_agent(concat!("canaryd/", env!("CARGO_PKG_VERSION")));
        if let Some(ca) = opt_str(name, settings, "ca_file")? {
            let pem = std::fs::read(&ca)
                .map_err(|e| config_error(name, format!("cannot read ca_file {ca}: {e}")))?;
            let cert = reqwest::Certificate::from_pem(&pem)
                .map_err(|e| config_error(name, format!("ca_file {ca} is not PEM: {e}")))?;
            builder = builder.add_root_certificate(cert);
        }
        if opt_bool(name, settings, "insecure_skip_verify")? {
            builder = builder.danger_accept_invalid_certs(true);
        }
        let client = builder
            .build()
            .map_err(|e| config_error(name, format!("cannot build the HTTP client: {e}")))?;
        let attempts = opt_u64(name, settings, "retry_attempts")?
            .unwrap_or(3)
            .max(1) as u32;
        let backoff =
            Duration::from_millis(opt_u64(name, settings, "retry_backoff_ms")?.unwrap_or(100));
        let max_response_bytes =
            opt_u64(name, settings, "max_response_bytes")?.unwrap_or(DEFAULT_MAX_RESPONSE_BYTES);
        if max_response_bytes == 0 {
            return Err(config_error(
                name,
                "option max_response_bytes must be at least 1".into(),
            ));
        }
        Ok(HttpClient {
            client,
            display_url: redact_url(&base),
            base,
            headers,
            timeout,
            attempts: attempts.min(10),
            backoff,
            max_response_bytes,
        })
    }

    /// The base URL without credentials.
    pub fn display_url(&self) -> &str {
        &self.display_url
    }

    /// GETs `path` (relative to the base URL) with `params`, retrying 5xx answers, timeouts and
    /// broken connections with exponential backoff; 4xx answers are returned at once. Any
    /// answer with a status is `Ok`: the backend decides what its error bodies mean.
    #[tracing::instrument(skip_all, fields(url = %self.display_url, path = path), err(level = "debug"))]
    pub async fn get(&self, path: &str, params: &[(&str, String)]) -> Result<Answer, SourceError> {
        let url = self
            .base
            .join(path)
            .map_err(|e| SourceError::Query(format!("bad request path {path}: {e}")))?;
        // Only an error shows the URL: redacted then, not for every query.
        let shown = || redact_url(&url);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let outcome = self.try_once(url.clone(), params).await;
            let retry = match &outcome {
                Ok(answer) => answer.status.is_server_error(),
                Err(Failure::Timeout) | Err(Failure::Broken(_)) => true,
                Err(Failure::Connect(_)) | Err(Failure::TooLarge) => false,
            };
            if !retry || attempt >= self.attempts {
                return match outcome {
                    Ok(answer) => Ok(answer),
                    Err(Failure::Timeout) => Err(SourceError::Timeout {
                        url: shown(),
                        timeout_seconds: self.timeout.as_secs_f64(),
                        attempts: attempt,
                    }),
                    Err(Failure::TooLarge) => Err(SourceError::TooLarge(format!(
                        "the answer from {} is over the source's max_response_bytes \
                         ({} bytes); aggregate the query or narrow the window, or raise the limit",
                        shown(),
                        self.max_response_bytes
                    ))),
                    Err(Failure::Connect(message)) => Err(SourceError::Unreachable {
                        url: shown(),
                        message,
                    }),
                    Err(Failure::Broken(message)) => Err(SourceError::Backend {
                        backend: "http",
                        status: "no answer".into(),
                        message: format!("{message} (from {}, tried {attempt} times)", shown()),
                    }),
                };
            }
            let delay = self.backoff * 2u32.saturating_pow(attempt - 1);
            tracing::debug!(attempt, ?delay, "retrying");
            tokio::time::sleep(delay).await;
        }
    }

    async fn try_once(&self, url: Url, params: &[(&str, String)]) -> Result<Answer, Failure> {
        let request = self
            .client
            .get(url)
            .headers(self.headers.clone())
            .query(params)
            .timeout(self.timeout);
        let limit = self.max_response_bytes;
        let attempt = async {
            let mut response = request.send().await?;
            let status = response.status();
            if response.content_length().is_some_and(|n| n > limit) {
                return Ok(None);
            }
            // In chunks, stopping at the limit: never more than `limit` bytes are held.
            // Sized once from Content-Length (at most the limit), not grown chunk by chunk.
            let expected = response.content_length().unwrap_or(0).min(limit);
            let mut body = Vec::with_capacity(usize::try_from(expected).unwrap_or(0));
            while let Some(chunk) = response.chunk().await? {
                if (body.len() + chunk.len()) as u64 > limit {
                    return Ok(None);
                }
                body.extend_from_slice(&chunk);
            }
            Ok::<_, reqwest::Error>(Some(Answer { status, body }))
        };
        // The outer timeout also bounds a server that sends headers and then stalls the body.
        match tokio::time::timeout(self.timeout, attempt).await {
            Err(_) => Err(Failure::Timeout),
            Ok(Ok(Some(answer))) => Ok(answer),
            Ok(Ok(None)) => Err(Failure::TooLarge),
            Ok(Err(e)) if e.is_timeout() => Err(Failure::Timeout),
            Ok(Err(e)) if e.is_connect() => Err(Failure::Connect(describe(&e))),
            Ok(Err(e)) => Err(Failure::Broken(describe(&e))),
        }
    }
}

enum Failure {
    Timeout,
    /// Over `max_response_bytes`.
    TooLarge,
    Connect(String),
    Broken(String),
}

/// The error and its causes, without the URL (which may carry a query with values).
fn describe(e: &reqwest::Error) -> String {
    use std::error::Error;
    let mut parts = Vec::new();
    let mut current: Option<&dyn Error> = e.source();
    while let Some(err) = current {
        let text = err.to_string();
        if !parts.contains(&text) {
            parts.push(text);
        }
        current = err.source();
    }
    if parts.is_empty() {
        parts.push(if e.is_connect() {
            "connection failed".to_string()
        } else if e.is_body() || e.is_decode() {
            "the answer broke off".to_string()
        } else {
            "request failed".to_string()
        });
    }
    parts.join(": ")
}
