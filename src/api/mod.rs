//! The REST API (CONTRACT §7) on actix-web: one file per resource, `gates.rs` for Flagger and
//! Argo Rollouts, `error.rs` for the answer of every error. Handlers hold no statistics and no
//! domain rules: they parse, authorize (the route guards of `auth.rs`), call
//! [`crate::service`], and shape the answer. [`crate::startup`] builds the server.

pub mod analyses;
pub mod auth;
pub mod body;
pub mod error;
pub mod gates;
pub mod judgments;
pub mod kayenta;
pub mod observe;
pub mod ops;
pub mod pages;
pub mod templates;

use std::sync::Arc;

use actix_web::App;
use tokio::sync::Notify;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_actix_web::service_config::ServiceConfig;
use utoipa_actix_web::{scope, AppExt};

use crate::config::Settings;
use crate::store::Store;

/// What every handler can reach.
pub struct AppState {
    /// The settings the service started with.
    pub settings: Settings,
    /// The store.
    pub store: Arc<Store>,
    /// `/openapi.json`, rendered once at start.
    pub openapi: String,
    /// Wakes this instance's scheduler when work was added.
    pub wake: Arc<Notify>,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "canaryd",
        description = "Automated canary analysis: judgments, templates, gates for Flagger and Argo Rollouts."
    ),
    modifiers(&BearerAuth)
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Every route; the OpenAPI document is collected from these same registrations. Public (but
/// hidden) for the in-process fuzz targets of the test suite, which serve these same routes.
#[doc(hidden)]
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(ops::healthz)
        .service(ops::readyz)
        .service(ops::metrics_text)
        .service(ops::openapi)
        .service(pages::judgment)
        .service(pages::analysis)
        .service(kayenta::list_configs)
        .service(kayenta::create_config)
        .service(kayenta::get_config)
        .service(kayenta::put_config)
        .service(kayenta::delete_config)
        .service(kayenta::create_execution)
        .service(kayenta::create_adhoc_execution)
        .service(kayenta::get_execution)
        .service(kayenta::create_standalone)
        .service(kayenta::create_adhoc_standalone)
        .service(kayenta::get_standalone)
        .service(
            scope::scope("/api/v1")
                .service(judgments::create)
                .service(judgments::list)
                .service(judgments::get_one)
                .service(judgments::replay)
                .service(templates::list)
                .service(templates::get_one)
                .service(templates::put)
                .service(templates::delete)
                .service(gates::flagger)
                .service(gates::flagger_rollback)
                .service(gates::argo_get)
                .service(gates::argo_post)
                .service(analyses::create)
                .service(analyses::list)
                .service(analyses::get_one)
                .service(analyses::cancel)
                .service(analyses::create_schedule)
                .service(analyses::list_schedules)
                .service(analyses::get_schedule)
                .service(analyses::delete_schedule),
        );
}

/// The OpenAPI document of every route, as JSON.
pub fn openapi_json() -> String {
    let (_, doc) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(routes)
        .split_for_parts();
    doc.to_pretty_json().unwrap_or_default()
}
