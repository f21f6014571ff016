//! `GET/PUT/DELETE /api/v1/templates/{name}`, `GET /api/v1/templates`: stored templates with
//! versions. A PUT body is the template as YAML (any content type but JSON) or as a JSON object;
//! it is validated like `canaryd template check` and stored as the next version.

use actix_web::http::header::CONTENT_TYPE;
use actix_web::{delete, get, put, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, ErrorBody};
use super::{body, AppState};
use crate::error::Code;
use crate::service::ServiceError;
use crate::store::{PutOutcome, StoredTemplate};
use crate::template::kayenta::{
    import_kayenta_value, is_kayenta_config, ImportOptions, KayentaIssue,
};
use crate::template::{parse_template, Template};

/// A template in a listing.
#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateSummary {
    /// Name.
    pub name: String,
    /// Latest version.
    pub version: i64,
    /// When that version was stored.
    pub updated_at: DateTime<Utc>,
    /// The template's description.
    pub description: String,
    /// Metric names.
    pub metrics: Vec<String>,
    /// Template arguments.
    pub args: Vec<String>,
    /// A file path, or `api`.
    pub origin: String,
}

/// One stored template version.
#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateResponse {
    /// Name.
    pub name: String,
    /// Version.
    pub version: i64,
    /// When it was stored.
    pub created_at: DateTime<Utc>,
    /// A file path, or `api`.
    pub origin: String,
    /// The template text as stored.
    pub source: String,
    /// The template as canaryd reads it, defaults filled in.
    #[schema(value_type = Object)]
    pub template: Value,
}

fn summary(stored: &StoredTemplate, t: &Template) -> TemplateSummary {
    TemplateSummary {
        name: stored.name.clone(),
        version: stored.version,
        updated_at: stored.created_at,
        description: t.description.clone(),
        metrics: t.metrics.iter().map(|m| m.name.clone()).collect(),
        args: t.args.keys().cloned().collect(),
        origin: stored.origin.clone(),
    }
}

fn parse_stored(stored: &StoredTemplate) -> Result<Template, ApiError> {
    parse_template(
        &stored.source,
        &format!("template {} v{}", stored.name, stored.version),
    )
    .map_err(|e| ApiError::Service(e.into()))
}

fn not_found(name: &str, version: Option<i64>) -> ApiError {
    ApiError::Service(ServiceError::TemplateNotFound {
        name: name.to_string(),
        version,
    })
}

/// Every stored template (latest versions).
#[utoipa::path(
    operation_id = "list_templates",
    tag = "templates",
    responses((status = 200, description = "Templates by name", body = Vec<TemplateSummary>)),
    security(("bearer" = ["read"]))
)]
#[get("/templates", guard = "crate::api::auth::read")]
pub async fn list(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let mut out = Vec::new();
    for stored in state.store.list_templates().await? {
        let t = parse_stored(&stored)?;
        out.push(summary(&stored, &t));
    }
    Ok(HttpResponse::Ok().json(out))
}

/// Which version to read.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct VersionQuery {
    /// A version (default: the latest).
    pub version: Option<i64>,
}

/// One template: the latest version, or `?version=N` (also of a deleted template).
#[utoipa::path(
    operation_id = "get_template",
    tag = "templates",
    params(("name" = String, Path, description = "Template name"), VersionQuery),
    responses(
        (status = 200, description = "The template", body = TemplateResponse),
        (status = 404, description = "No such template", body = ErrorBody),
    ),
    security(("bearer" = ["read"]))
)]
#[get("/templates/{name}", guard = "crate::api::auth::read")]
pub async fn get_one(
    state: web::Data<AppState>,
    name: web::Path<String>,
    query: Result<web::Query<VersionQuery>, actix_web::Error>,
) -> Result<HttpResponse, ApiError> {
    let version = body::query(query)?.version;
    let Some(stored) = state.store.get_template(&name, version).await? else {
        return Err(not_found(&name, version));
    };
    let t = parse_stored(&stored)?;
    Ok(HttpResponse::Ok().json(TemplateResponse {
        name: stored.name,
        version: stored.version,
        created_at: stored.created_at,
        origin: stored.origin,
        source: stored.source,
        template: serde_json::to_value(&t).unwrap_or_default(),
    }))
}

/// What a PUT did.
#[derive(Debug, Serialize, ToSchema)]
pub struct PutResponse {
    /// Name.
    pub name: String,
    /// The version now current.
    pub version: i64,
    /// False when the text equals the current version's (nothing stored).
    pub created: bool,
    /// A Kayenta canary config's body: one warning per field that does not map exactly
    /// (`metric`, `field`, `message`); absent for a canaryd template.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<Object>)]
    pub warnings: Vec<KayentaIssue>,
}

/// Store a template as the next version. The body is YAML, or a JSON object with
/// `Content-Type: application/json`; its `name` must be the path's. A JSON body in the shape
/// of a Kayenta canary config (a `classifier`, or metrics whose `query` is an object) is
/// translated as `canaryd template import-kayenta --name {name}` does, and the translation is
/// stored; nothing is stored when it cannot be translated.
#[utoipa::path(
    operation_id = "put_template",
    tag = "templates",
    params(("name" = String, Path, description = "Template name")),
    request_body(content = String, description = "The template (YAML, or JSON)", content_type = "application/yaml"),
    responses(
        (status = 201, description = "Stored as a new version", body = PutResponse),
        (status = 200, description = "Identical to the current version", body = PutResponse),
        (status = 400, description = "Invalid template: every problem with line, column and field", body = ErrorBody),
    ),
    security(("bearer" = ["admin"]))
)]
#[put("/templates/{name}", guard = "crate::api::auth::admin")]
pub async fn put(
    state: web::Data<AppState>,
    name: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    super::judgments::template_name("name (in the path)", &name)?;
    let bytes = body::read(payload, state.settings.server.max_body_bytes).await?;
    let is_json = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let mut warnings = Vec::new();
    let text = if is_json {
        let v: Value = body::json(&bytes)?;
        if !v.is_object() {
            return Err(ApiError::bad("(body)", "expected a template object"));
        }
        if is_kayenta_config(&v) {
            let options = ImportOptions {
                name: Some(name.to_string()),
                source: None,
            };
            let imported = import_kayenta_value(&v, &options).map_err(|e| {
                let issues = e.issues();
                ApiError::BadRequest {
                    code: Code::InvalidTemplate,
                    message: format!("the Kayenta canary config cannot be imported: {e}"),
                    path: issues.first().map(|i| i.field.clone()),
                }
            })?;
            warnings = imported.warnings;
            imported.yaml
        } else {
            serde_json::to_string_pretty(&v).unwrap_or_default()
        }
    } else {
        String::from_utf8(bytes.to_vec())
            .map_err(|_| ApiError::bad("(body)", "the template is not UTF-8 text"))?
    };
    let template = parse_template(&text, &format!("template {name}"))
        .map_err(|e| ApiError::Service(e.into()))?;
    if template.name != *name {
        return Err(ApiError::bad(
            "name",
            format!(
                "the template is named '{}' but is PUT at '{}'",
                template.name, name
            ),
        ));
    }
    let outcome = state.store.put_template(&name, &text, "api").await?;
    let (version, created) = match outcome {
        PutOutcome::Created(v) => (v, true),
        PutOutcome::Unchanged(v) => (v, false),
    };
    tracing::info!(template = %name, version, created, kayenta_warnings = warnings.len(), "template stored");
    let mut response = if created {
        HttpResponse::Created()
    } else {
        HttpResponse::Ok()
    };
    Ok(response.json(PutResponse {
        name: name.into_inner(),
        version,
        created,
        warnings,
    }))
}

/// Delete a template (every version stays readable with `?version=N`, so that old judgments
/// stay explainable; a later PUT continues the numbering).
#[utoipa::path(
    operation_id = "delete_template",
    tag = "templates",
    params(("name" = String, Path, description = "Template name")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such template", body = ErrorBody),
    ),
    security(("bearer" = ["admin"]))
)]
#[delete("/templates/{name}", guard = "crate::api::auth::admin")]
pub async fn delete(
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    if state.store.delete_template(&name).await? {
        tracing::info!(template = %name, "template deleted");
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(not_found(&name, None))
    }
}
