//! Bearer tokens (CONTRACT §6, §7): configured as SHA-256 digests, compared in constant time,
//! with roles `read` < `judge` < `admin`. With no token configured the API is open. The token
//! itself is never logged or echoed: only the holder's configured name is.

use std::cell::Cell;
use std::rc::Rc;

use actix_web::body::MessageBody;
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

/// Where the guard of the matched route (or the default service) says that it ran, so that
/// the middleware knows routing declared an access. Put in the request's extensions by
/// [`require_token`] before routing.
#[derive(Clone, Default)]
struct Declared(Rc<Cell<bool>>);

/// A refusal found by a route's guard, answered by [`not_found_or_refused`].
#[derive(Clone)]
struct Refused(HttpResponseParts);

/// What a refusal answers: the error and whether to challenge a browser with Basic.
#[derive(Clone)]
struct HttpResponseParts {
    error: std::sync::Arc<ApiError>,
    page: bool,
}

/// The guard of every route: decides whether the caller may call it, by the access it
/// declares. It runs only once the route's path and method guard matched (actix checks a
/// resource's guards in order and stops at the first that fails), so it sees the route actix
/// is about to call, whatever the path's spelling. Allowed: the [`Caller`] (or a
/// [`DeferredAuth`]) goes in the request's extensions and the route matches. Refused: the
/// route does not match, and the default service answers the refusal, before any extractor or
/// line of the handler ran.
fn declare(ctx: &GuardContext<'_>, access: Access) -> bool {
    if let Some(d) = ctx.req_data().get::<Declared>() {
        d.0.set(true);
    }
    let (tokens, header, present) = credentials(ctx.app_data(), ctx.head().headers());
    match decide(&tokens, access, header.as_deref(), present) {
        Ok(Granted::Open) => true,
        Ok(Granted::Caller(c)) => {
            ctx.req_data_mut().insert(c);
            true
        }
        Ok(Granted::Deferred(d)) => {
            ctx.req_data_mut().insert(d);
            true
        }
        Err(error) => {
            // Not this route after all: whatever actix matches next declares its own access.
            if let Some(d) = ctx.req_data().get::<Declared>() {
                d.0.set(false);
            }
            ctx.req_data_mut().insert(Refused(HttpResponseParts {
                error: std::sync::Arc::new(error),
                page: matches!(access, Access::Page(_)),
            }));
            false
        }
    }
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

/// The body of a Flagger call, once its token is checked when the middleware deferred the
/// check (no `Authorization` header): the token is looked for in `metadata.token` before
/// anything else of the body is parsed, so an unauthenticated caller learns nothing of what
/// the service would make of its body. A body over `server.max_body_bytes` (reading stops at
/// the limit), not JSON, or without a token is then a 401. Without a deferred check, `read`
/// is passed on as it is.
///
/// # Errors
/// 401 or 403 as above; else the error of `read`.
pub fn deferred_body(
    req: &actix_web::HttpRequest,
    read: Result<web::Bytes, ApiError>,
) -> Result<web::Bytes, ApiError> {
    if req.extensions().get::<DeferredAuth>().is_none() {
        return read;
    }
    let token = read.as_ref().ok().and_then(|bytes| {
        let v: serde_json::Value = serde_json::from_slice(bytes).ok()?;
        v.get("metadata")?
            .get("token")?
            .as_str()
            .map(str::to_string)
    });
    authorize_deferred(req, token.as_deref())?;
    read
}

/// The token of an `Authorization` header: `Bearer TOKEN`, or `Basic` with the token as the
/// password (any user name), which is what a browser sends for the report pages.
pub fn presented_token(header: &str) -> Option<String> {
    let (scheme, rest) = header.trim().split_once(' ')?;
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some(rest.trim().to_string());
    }
    if scheme.eq_ignore_ascii_case("basic") {
        use base64::Engine;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest.trim())
            .ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let (_, password) = text.split_once(':')?;
        return Some(password.to_string());
    }
    None
}

/// What a caller may do, once decided.
enum Granted {
    /// No token is configured, or the route is public.
    Open,
    /// A valid token of a strong enough role.
    Caller(Caller),
    /// A Flagger webhook without an `Authorization` header: the handler checks the body's.
    Deferred(DeferredAuth),
}

/// The decision for a route of `access`, with the `Authorization` header `header` (`present`
/// when the header exists at all, readable or not).
fn decide(
    tokens: &Tokens,
    access: Access,
    header: Option<&str>,
    present: bool,
) -> Result<Granted, ApiError> {
    let needed = match access {
        Access::Public => return Ok(Granted::Open),
        Access::Needs(r) | Access::NeedsOrBodyToken(r) | Access::Page(r) => r,
    };
    if tokens.is_open() {
        return Ok(Granted::Open);
    }
    if !present && matches!(access, Access::NeedsOrBodyToken(_)) {
        // Flagger cannot send headers: its token comes in the body (`metadata.token`), which
        // the handler checks with `deferred_body` before anything else of the body.
        return Ok(Granted::Deferred(DeferredAuth { needed }));
    }
    match header.and_then(presented_token) {
        None => Err(ApiError::Unauthorized(
            "this call needs an `Authorization: Bearer TOKEN` header".into(),
        )),
        Some(token) => match tokens.check(&token) {
            None => Err(ApiError::Unauthorized("the token is not valid".into())),
            Some(caller) if rank(caller.role) < rank(needed) => {
                tracing::info!(caller = %caller.name, "forbidden: role too weak");
                Err(ApiError::Forbidden(format!(
                    "token '{}' has role {:?}; this call needs {:?} or above",
                    caller.name, caller.role, needed
                )))
            }
            Some(caller) => Ok(Granted::Caller(caller)),
        },
    }
}

fn refusal(error: &ApiError, page: bool) -> HttpResponse {
    let mut response = error.error_response();
    if page && response.status() == actix_web::http::StatusCode::UNAUTHORIZED {
        // A browser asks for the token itself when challenged with Basic.
        response.headers_mut().insert(
            actix_web::http::header::WWW_AUTHENTICATE,
            actix_web::http::header::HeaderValue::from_static(
                "Basic realm=\"canaryd\", charset=\"UTF-8\"",
            ),
        );
    }
    response
}

/// The App's default service: the answer when no route matched, or when the matched route's
/// guard refused the caller. A path that matches no route needs admin (so that it tells no one
/// else which paths exist); admin gets the 404.
pub fn not_found_or_refused() -> impl actix_web::dev::ServiceFactory<
    ServiceRequest,
    Config = (),
    Response = ServiceResponse,
    Error = actix_web::Error,
    InitError = (),
> {
    actix_web::dev::fn_service(|req: ServiceRequest| {
        // Synchronously, before the middleware looks: routing declared an access.
        if let Some(d) = req.extensions().get::<Declared>() {
            d.0.set(true);
        }
        let refused = req.extensions().get::<Refused>().cloned();
        async move {
            if let Some(Refused(r)) = refused {
                let response = refusal(&r.error, r.page);
                return Ok(req.into_response(response));
            }
            let (tokens, header, present) = credentials(req.app_data(), req.headers());
            let needs = Access::Needs(Role::Admin);
            let response = match decide(&tokens, needs, header.as_deref(), present) {
                Err(e) => refusal(&e, false),
                Ok(_) => super::error::ApiError::NoRoute {
                    method: req.method().to_string(),
                    path: req.path().to_string(),
                }
                .error_response(),
            };
            Ok(req.into_response(response))
        }
    })
}

/// The configured tokens, the `Authorization` header's text (when it is text) and whether
/// one was sent at all.
fn credentials(
    tokens: Option<&web::Data<Tokens>>,
    headers: &actix_web::http::header::HeaderMap,
) -> (Tokens, Option<String>, bool) {
    let tokens = tokens.map(|t| t.get_ref().clone()).unwrap_or_default();
    let header = headers.get(actix_web::http::header::AUTHORIZATION);
    let text = header.and_then(|v| v.to_str().ok()).map(str::to_string);
    (tokens, text, header.is_some())
}

/// The middleware, the safety net of the route guards: a route registered without one of
/// them declares no access, and then only an admin may call it. actix matches the route (and
/// runs its guards) inside `call`, and returns the route's future without polling it, so
/// nothing of the handler has run when the middleware looks. Should actix ever match lazily,
/// nothing would be declared yet and every call would need admin: this fails closed.
pub async fn require_token(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody + 'static>, actix_web::Error> {
    let declared = Declared::default();
    req.extensions_mut().insert(declared.clone());
    let (tokens, header, present) = credentials(req.app_data(), req.headers());
    let routed = next.call(req);
    if !declared.0.get() {
        if let Err(e) = decide(
            &tokens,
            Access::Needs(Role::Admin),
            header.as_deref(),
            present,
        ) {
            drop(routed);
            tracing::error!("a route declares no access (no auth guard): admin only");
            let response = refusal(&e, false);
            return Err(actix_web::error::InternalError::from_response(e, response).into());
        }
    }
    routed.await
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
