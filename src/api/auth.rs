//! Bearer tokens (CONTRACT §6, §7): configured as SHA-256 digests, compared in constant time,
//! with roles `read` < `judge` < `admin`. With no token configured the API is open. The token
//! itself is never logged or echoed: only the holder's configured name is.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage, ResponseError};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::error::ApiError;
use crate::config::{AuthSettings, Role};

/// The configured tokens, decoded.
#[derive(Clone, Default)]
pub struct Tokens {
    tokens: Vec<([u8; 32], String, Role)>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.tokens.iter().map(|t| t.1.as_str()).collect();
        f.debug_struct("Tokens").field("names", &names).finish()
    }
}

/// Who called, once authenticated (in the request's extensions).
#[derive(Debug, Clone)]
pub struct Caller {
    /// The token's configured name.
    pub name: String,
    /// Its role.
    pub role: Role,
}

fn rank(role: Role) -> u8 {
    match role {
        Role::Read => 0,
        Role::Judge => 1,
        Role::Admin => 2,
    }
}

impl Tokens {
    /// Decodes the configured digests.
    ///
    /// # Errors
    /// A digest that is not 64 hex digits, named by the token's name.
    pub fn from_settings(settings: &AuthSettings) -> Result<Tokens, String> {
        let mut tokens = Vec::new();
        for (i, t) in settings.tokens.iter().enumerate() {
            let mut digest = [0u8; 32];
            hex::decode_to_slice(t.token_sha256.trim(), &mut digest).map_err(|_| {
                format!(
                    "auth.tokens[{i}] ('{}'): token_sha256 must be 64 hex digits (the SHA-256 \
                     of the token, e.g. from `printf %s TOKEN | sha256sum`)",
                    t.name
                )
            })?;
            tokens.push((digest, t.name.clone(), t.role));
        }
        Ok(Tokens { tokens })
    }

    /// True when no token is configured (the API is open).
    pub fn is_open(&self) -> bool {
        self.tokens.is_empty()
    }

    /// The holder of `token`, comparing with every configured digest in constant time.
    pub fn check(&self, token: &str) -> Option<Caller> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let mut found = None;
        for (d, name, role) in &self.tokens {
            if bool::from(d.ct_eq(&digest)) && found.is_none() {
                found = Some(Caller {
                    name: name.clone(),
                    role: *role,
                });
            }
        }
        found
    }
}

/// The role a call needs; `None` for the operations endpoints anyone may call.
pub fn required_role(method: &Method, path: &str) -> Option<Role> {
    if matches!(path, "/healthz" | "/readyz" | "/metrics") {
        return None;
    }
    let api = path.strip_prefix("/api/v1");
    if *method == Method::GET || *method == Method::HEAD {
        // The Argo gate's GET makes a judgment.
        if api == Some("/gates/argo") {
            return Some(Role::Judge);
        }
        return Some(Role::Read);
    }
    match api {
        Some(p) if p.starts_with("/templates") => Some(Role::Admin),
        Some(p)
            if p.starts_with("/judgments")
                || p.starts_with("/gates/")
                || p.starts_with("/analyses")
                || p.starts_with("/schedules") =>
        {
            Some(Role::Judge)
        }
        _ => Some(Role::Admin),
    }
}

/// Set by the middleware on a Flagger gate call without an `Authorization` header: the token
/// is in the body, and the handler must check it.
#[derive(Debug, Clone, Copy)]
pub struct DeferredAuth {
    /// The role the call needs.
    pub needed: Role,
}

/// Checks a token found in a request body (Flagger's `metadata.token`) when the middleware
/// deferred the check; does nothing otherwise.
///
/// # Errors
/// 401 without a valid token, 403 with too weak a role.
pub fn authorize_deferred(
    req: &actix_web::HttpRequest,
    token: Option<&str>,
) -> Result<(), ApiError> {
    let Some(deferred) = req.extensions().get::<DeferredAuth>().copied() else {
        return Ok(());
    };
    let tokens = req
        .app_data::<web::Data<Tokens>>()
        .map(|t| t.get_ref().clone())
        .unwrap_or_default();
    let Some(token) = token else {
        return Err(ApiError::Unauthorized(
            "this call needs an `Authorization: Bearer TOKEN` header, or for Flagger a \
             `token` entry in the webhook's metadata"
                .into(),
        ));
    };
    match tokens.check(token) {
        None => Err(ApiError::Unauthorized("the token is not valid".into())),
        Some(caller) if rank(caller.role) < rank(deferred.needed) => {
            Err(ApiError::Forbidden(format!(
                "token '{}' has role {:?}; this call needs {:?} or above",
                caller.name, caller.role, deferred.needed
            )))
        }
        Some(caller) => {
            req.extensions_mut().insert(caller);
            Ok(())
        }
    }
}

/// The token of an `Authorization` header: `Bearer TOKEN`, or `Basic` with the token as the
/// password (any user name), which is what a browser sends for the report pages.
pub fn presented_token(header: &str) -> Option<String> {
    let (scheme, rest) = header.trim().split_once(' ')?;
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some(rest.trim().to_string());
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = crate::source::http::base64_basic::decode(rest)?;
        let text = String::from_utf8(decoded).ok()?;
        let (_, password) = text.split_once(':')?;
        return Some(password.to_string());
    }
    None
}

/// The HTML report pages (outside `/api/v1`).
fn is_page(path: &str) -> bool {
    path.starts_with("/judgments/") || path.starts_with("/analyses/")
}

/// The middleware: 401 without a valid token, 403 with too weak a role.
pub async fn require_token(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody + 'static>>, actix_web::Error> {
    let tokens = req
        .app_data::<web::Data<Tokens>>()
        .map(|t| t.get_ref().clone())
        .unwrap_or_default();
    let Some(needed) = required_role(req.method(), req.path()) else {
        return Ok(next.call(req).await?.map_into_left_body());
    };
    if tokens.is_open() {
        return Ok(next.call(req).await?.map_into_left_body());
    }
    let has_header = req
        .headers()
        .contains_key(actix_web::http::header::AUTHORIZATION);
    if !has_header && req.path().starts_with("/api/v1/gates/flagger") {
        // Flagger cannot send headers: its token comes in the body (`metadata.token`), which
        // the handler checks with `authorize_deferred` once the body is read.
        req.extensions_mut().insert(DeferredAuth { needed });
        return Ok(next.call(req).await?.map_into_left_body());
    }
    let presented = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(presented_token);
    let denied = match presented {
        None => Some(ApiError::Unauthorized(
            "this call needs an `Authorization: Bearer TOKEN` header".into(),
        )),
        Some(token) => match tokens.check(&token) {
            None => Some(ApiError::Unauthorized("the token is not valid".into())),
            Some(caller) if rank(caller.role) < rank(needed) => {
                tracing::info!(caller = %caller.name, "forbidden: role too weak");
                Some(ApiError::Forbidden(format!(
                    "token '{}' has role {:?}; this call needs {:?} or above",
                    caller.name, caller.role, needed
                )))
            }
            Some(caller) => {
                req.extensions_mut().insert(caller);
                None
            }
        },
    };
    match denied {
        Some(e) => {
            let mut response = e.error_response();
            if is_page(req.path()) && response.status() == actix_web::http::StatusCode::UNAUTHORIZED
            {
                // A browser asks for the token itself when challenged with Basic.
                response.headers_mut().insert(
                    actix_web::http::header::WWW_AUTHENTICATE,
                    actix_web::http::header::HeaderValue::from_static(
                        "Basic realm=\"canaryd\", charset=\"UTF-8\"",
                    ),
                );
            }
            Ok(req.into_response(response).map_into_right_body())
        }
        None => Ok(next.call(req).await?.map_into_left_body()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TokenSettings;

    fn tokens() -> Tokens {
        let digest = hex::encode(Sha256::digest(b"s3cret"));
        Tokens::from_settings(&AuthSettings {
            tokens: vec![TokenSettings {
                name: "ci".into(),
                token_sha256: digest,
                role: Role::Judge,
            }],
        })
        .unwrap()
    }

    #[test]
    fn checks_tokens_by_digest() {
        let t = tokens();
        assert_eq!(t.check("s3cret").map(|c| c.name), Some("ci".to_string()));
        assert!(t.check("s3cre").is_none());
        assert!(!format!("{t:?}").contains("s3cret"));
    }

    #[test]
    fn bad_digests_are_named() {
        let err = Tokens::from_settings(&AuthSettings {
            tokens: vec![TokenSettings {
                name: "ops".into(),
                token_sha256: "abc".into(),
                role: Role::Read,
            }],
        })
        .unwrap_err();
        assert!(err.contains("auth.tokens[0] ('ops')"), "{err}");
    }

    #[test]
    fn bearer_or_basic_password() {
        assert_eq!(presented_token("Bearer abc"), Some("abc".into()));
        assert_eq!(presented_token("bearer  abc "), Some("abc".into()));
        // "me:s3cret"
        assert_eq!(presented_token("Basic bWU6czNjcmV0"), Some("s3cret".into()));
        assert_eq!(presented_token("Basic !!!"), None);
        assert_eq!(presented_token("Digest x"), None);
    }

    #[test]
    fn roles_by_route() {
        assert_eq!(required_role(&Method::GET, "/metrics"), None);
        assert_eq!(
            required_role(&Method::GET, "/api/v1/judgments"),
            Some(Role::Read)
        );
        assert_eq!(
            required_role(&Method::POST, "/api/v1/judgments"),
            Some(Role::Judge)
        );
        assert_eq!(
            required_role(&Method::GET, "/api/v1/gates/argo"),
            Some(Role::Judge)
        );
        assert_eq!(
            required_role(&Method::PUT, "/api/v1/templates/x"),
            Some(Role::Admin)
        );
        assert_eq!(
            required_role(&Method::DELETE, "/api/v1/analyses/x"),
            Some(Role::Judge)
        );
        assert_eq!(
            required_role(&Method::POST, "/elsewhere"),
            Some(Role::Admin)
        );
    }
}
