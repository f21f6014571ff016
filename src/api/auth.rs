//! Bearer tokens (CONTRACT §6, §7): configured as SHA-256 digests, compared in constant time,
//! with roles `read` < `judge` < `admin`. With no token configured the API is open. The token
//! itself is never logged or echoed: only the holder's configured name is.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::guard::GuardContext;
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage, HttpResponse, ResponseError};
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

/// Who may call a route. Declared where the route is declared, by one of the guards below in
/// its attribute (`#[get("/judgments", guard = "crate::api::auth::read")]`), and looked up
/// only once actix has matched the route, so it does not depend on how the path was spelled
/// (percent-encoding, slashes). A route that declares nothing, and any path that matches no
/// route, needs `admin`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, token or not (`/healthz`, `/readyz`, `/metrics`).
    Public,
    /// A token of at least this role, in the `Authorization` header.
    Needs(Role),
    /// Flagger's webhooks: as `Needs`, or with no `Authorization` header at all, the token in
    /// the body's `metadata.token` (Flagger cannot send headers); the handler checks it with
    /// [`authorize_deferred`] before it parses anything else of the body.
    NeedsOrBodyToken(Role),
    /// A report page: as `Needs`, and a 401 challenges a browser with Basic.
    Page(Role),
}

/// The access the matched route declared (in the request's extensions).
#[derive(Debug, Clone, Copy)]
struct RouteAccess(Access);

/// Records `access` as the matched route's. Called from a route's guard, after its method
/// guard matched (actix checks a resource's guards in order and stops at the first that
/// fails), so it is the route actix is about to call. Always true: it decides nothing itself.
fn declare(ctx: &GuardContext<'_>, access: Access) -> bool {
    ctx.req_data_mut().insert(RouteAccess(access));
    true
}

/// Guard: anyone may call this route.
pub fn public(ctx: &GuardContext<'_>) -> bool {
    declare(ctx, Access::Public)
}

/// Guard: this route needs a `read` token (or better).
pub fn read(ctx: &GuardContext<'_>) -> bool {
    declare(ctx, Access::Needs(Role::Read))
}

/// Guard: this route needs a `judge` token (or better).
pub fn judge(ctx: &GuardContext<'_>) -> bool {
    declare(ctx, Access::Needs(Role::Judge))
}

/// Guard: this route needs an `admin` token.
pub fn admin(ctx: &GuardContext<'_>) -> bool {
    declare(ctx, Access::Needs(Role::Admin))
}

/// Guard: a Flagger webhook, `judge`, the token in the header or in `metadata.token`.
pub fn flagger_judge(ctx: &GuardContext<'_>) -> bool {
    declare(ctx, Access::NeedsOrBodyToken(Role::Judge))
}

/// Guard: a report page, `read`, with a Basic challenge for browsers.
pub fn page_read(ctx: &GuardContext<'_>) -> bool {
    declare(ctx, Access::Page(Role::Read))
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

/// The middleware: 401 without a valid token, 403 with too weak a role, for the role the
/// *matched route* declared ([`Access`]).
///
/// It is registered on the App, so it runs before routing; it learns the route by calling the
/// router first. actix matches the route (running the guards that declare its access) inside
/// `call`, and returns the route's future without polling it: no extractor and no line of the
/// handler has run yet. When the caller may not call the route, that future is dropped
/// unpolled. Should actix ever match lazily, no access would be declared yet and every call
/// would need `admin`: this fails closed, never open.
pub async fn require_token(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody + 'static>>, actix_web::Error> {
    let request = req.request().clone();
    let routed = next.call(req);
    let access = request
        .extensions()
        .get::<RouteAccess>()
        .map(|a| a.0)
        .unwrap_or(Access::Needs(Role::Admin));
    match authorize(&request, access) {
        None => Ok(routed.await?.map_into_left_body()),
        Some(response) => {
            drop(routed);
            Ok(ServiceResponse::new(request, response).map_into_right_body())
        }
    }
}

/// `None` when the caller may go on (a [`Caller`] or a [`DeferredAuth`] is then in the
/// request's extensions), else the answer.
fn authorize(req: &actix_web::HttpRequest, access: Access) -> Option<HttpResponse> {
    let needed = match access {
        Access::Public => return None,
        Access::Needs(r) | Access::NeedsOrBodyToken(r) | Access::Page(r) => r,
    };
    let tokens = req
        .app_data::<web::Data<Tokens>>()
        .map(|t| t.get_ref().clone())
        .unwrap_or_default();
    if tokens.is_open() {
        return None;
    }
    let header = req.headers().get(actix_web::http::header::AUTHORIZATION);
    if header.is_none() && matches!(access, Access::NeedsOrBodyToken(_)) {
        // Flagger cannot send headers: its token comes in the body (`metadata.token`), which
        // the handler checks with `authorize_deferred` before anything else of the body.
        req.extensions_mut().insert(DeferredAuth { needed });
        return None;
    }
    let presented = header
        .and_then(|v| v.to_str().ok())
        .and_then(presented_token);
    let denied = match presented {
        None => ApiError::Unauthorized(
            "this call needs an `Authorization: Bearer TOKEN` header".into(),
        ),
        Some(token) => match tokens.check(&token) {
            None => ApiError::Unauthorized("the token is not valid".into()),
            Some(caller) if rank(caller.role) < rank(needed) => {
                tracing::info!(caller = %caller.name, "forbidden: role too weak");
                ApiError::Forbidden(format!(
                    "token '{}' has role {:?}; this call needs {:?} or above",
                    caller.name, caller.role, needed
                ))
            }
            Some(caller) => {
                req.extensions_mut().insert(caller);
                return None;
            }
        },
    };
    let mut response = denied.error_response();
    if matches!(access, Access::Page(_))
        && response.status() == actix_web::http::StatusCode::UNAUTHORIZED
    {
        // A browser asks for the token itself when challenged with Basic.
        response.headers_mut().insert(
            actix_web::http::header::WWW_AUTHENTICATE,
            actix_web::http::header::HeaderValue::from_static(
                "Basic realm=\"canaryd\", charset=\"UTF-8\"",
            ),
        );
    }
    Some(response)
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
}
