//! Kayenta's REST API beside ours (CONTRACT §8, issue 16 item 3), at Kayenta's own paths from
//! the root and with its JSON field names, so that Argo Rollouts' `kayenta` provider and
//! Spinnaker's Kayenta stage call canaryd unchanged:
//!
//! - `GET/POST /canaryConfig`, `GET/PUT/DELETE /canaryConfig/{id}`: a canary config is stored
//!   as the template named by its id (the translation of `crate::template::kayenta`), and keeps
//!   the Kayenta JSON it was given, which the GET answers;
//! - `POST /canary/{canaryConfigId}`: a live judgment of the config's template (the path of
//!   `POST /api/v1/judgments`), stored; its id is the `canaryExecutionId`;
//! - `GET /canary/{canaryExecutionId}`: the judgment as Kayenta's
//!   `CanaryExecutionStatusResponse`;
//! - `POST /canary`: the same with the config inline;
//! - `POST /standalone_canary_analysis/{canaryConfigId}`, `GET /standalone_canary_analysis/{id}`:
//!   Kayenta's standalone analysis as a canaryd scheduled analysis.
//!
//! Kayenta's account query parameters (`application`, `configurationAccountName`, ...) are
//! accepted and ignored: canaryd has one store and its sources are named by the template.
//! Errors answer in Kayenta's shape, `{"message": ...}` (its `ControllerExceptionHandler`),
//! with canaryd's `code` beside it.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{delete, get, post, put, web, HttpResponse, ResponseError};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::error::ApiError;
use super::observe::RequestId;
use super::{body, AppState};
use crate::judge::Report;
use crate::service::{self, JudgmentInput, Points, TemplateRef};
use crate::store::PutOutcome;
use crate::template::kayenta::{import_kayenta_value, ImportOptions};
use crate::template::parse_template;

/// An error of Kayenta's API, answered in Kayenta's shape.
#[derive(Debug, thiserror::Error)]
pub enum KayentaApiError {
    /// Kayenta's `IllegalArgumentException`: a 400.
    #[error("{0}")]
    Bad(String),
    /// Kayenta's `NotFoundException`: a 404.
    #[error("{0}")]
    NotFound(String),
    /// Anything else canaryd answers (a source failure, the store...).
    #[error(transparent)]
    Api(#[from] ApiError),
}

impl From<crate::store::StoreError> for KayentaApiError {
    fn from(e: crate::store::StoreError) -> Self {
        KayentaApiError::Api(e.into())
    }
}

impl From<service::ServiceError> for KayentaApiError {
    fn from(e: service::ServiceError) -> Self {
        KayentaApiError::Api(e.into())
    }
}

impl ResponseError for KayentaApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            KayentaApiError::Bad(_) => StatusCode::BAD_REQUEST,
            KayentaApiError::NotFound(_) => StatusCode::NOT_FOUND,
            KayentaApiError::Api(e) => e.status_code(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let code = match self {
            KayentaApiError::Bad(_) => "invalid_request",
            KayentaApiError::NotFound(_) => "not_found",
            KayentaApiError::Api(e) => e.code().name(),
        };
        if status.is_server_error() {
            tracing::error!(code, error = %self, "Kayenta API request failed");
        }
        HttpResponse::build(status).json(json!({"message": self.to_string(), "code": code}))
    }
}

type Answer = Result<HttpResponse, KayentaApiError>;

fn config_not_found(id: &str) -> KayentaApiError {
    KayentaApiError::NotFound(format!("No canary config with id '{id}' was found."))
}

fn millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Checks a Kayenta canary config as Kayenta's `CanaryConfigController` does (a name, at
/// least one application, named metrics), translates it and checks the translation with
/// canaryd's loader. Returns the template text.
fn translate(id: &str, config: &Value) -> Result<String, KayentaApiError> {
    let Some(object) = config.as_object() else {
        return Err(KayentaApiError::Bad(
            "A canary config is a JSON object.".into(),
        ));
    };
    if object
        .get("name")
        .and_then(Value::as_str)
        .is_none_or(|n| n.trim().is_empty())
    {
        return Err(KayentaApiError::Bad(
            "Canary config must specify a name.".into(),
        ));
    }
    if object
        .get("applications")
        .and_then(Value::as_array)
        .is_none_or(|a| a.is_empty())
    {
        return Err(KayentaApiError::Bad(
            "Canary config must specify at least one application.".into(),
        ));
    }
    let options = ImportOptions {
        name: Some(id.to_string()),
        source: None,
    };
    let imported = import_kayenta_value(config, &options)
        .map_err(|e| KayentaApiError::Bad(format!("The canary config cannot be imported: {e}")))?;
    parse_template(&imported.yaml, &format!("canary config {id}")).map_err(|e| {
        KayentaApiError::Bad(format!(
            "The canary config's translation is not a valid template: {e}"
        ))
    })?;
    Ok(imported.yaml)
}

/// The config with `id` and Kayenta's timestamps set, as Kayenta stores it.
fn stamped(mut config: Value, id: &str, created: i64, updated: i64) -> Value {
    if let Some(object) = config.as_object_mut() {
        let iso_of = |ms: i64| {
            DateTime::<Utc>::from_timestamp_millis(ms)
                .map(iso)
                .unwrap_or_default()
        };
        object.insert("id".into(), json!(id));
        object.insert("createdTimestamp".into(), json!(created));
        object.insert("createdTimestampIso".into(), json!(iso_of(created)));
        object.insert("updatedTimestamp".into(), json!(updated));
        object.insert("updatedTimestampIso".into(), json!(iso_of(updated)));
    }
    config
}

fn json_body(bytes: &[u8]) -> Result<Value, KayentaApiError> {
    let v: Value = body::json(bytes)?;
    Ok(v)
}

/// `GET /canaryConfig`: every canary config, `[{id, name, updatedTimestamp,
/// updatedTimestampIso, applications}]`. The query parameters are ignored.
#[utoipa::path(
    operation_id = "list_kayenta_configs",
    tag = "kayenta",
    responses(
        (status = 200, description = "Canary configs"),
    ),
    security(("bearer" = ["read"]))
)]
#[get("/canaryConfig", guard = "crate::api::auth::read")]
pub async fn list_configs(state: web::Data<AppState>) -> Answer {
    let mut out = Vec::new();
    for stored in state.store.list_kayenta_configs().await? {
        let config: Value = serde_json::from_str(&stored.config).unwrap_or(Value::Null);
        let updated = stored.template.created_at;
        out.push(json!({
            "id": stored.template.name,
            "name": config.get("name").cloned().unwrap_or(Value::Null),
            "updatedTimestamp": millis(updated),
            "updatedTimestampIso": iso(updated),
            "applications": config.get("applications").cloned().unwrap_or(json!([])),
        }));
    }
    Ok(HttpResponse::Ok().json(out))
}

/// `POST /canaryConfig`: stores a new canary config (its `id`, or a new one), `{canaryConfigId}`.
#[utoipa::path(
    operation_id = "create_kayenta_config",
    tag = "kayenta",
    responses(
        (status = 200, description = "Stored: `{canaryConfigId}`"),
        (status = 400, description = "Invalid or untranslatable config: `{message}`"),
    ),
    security(("bearer" = ["admin"]))
)]
#[post("/canaryConfig", guard = "crate::api::auth::admin")]
pub async fn create_config(state: web::Data<AppState>, payload: web::Payload) -> Answer {
    let bytes = body::read(payload, state.settings.server.max_body_bytes).await?;
    let config = json_body(&bytes)?;
    let id = match config.get("id") {
        None | Some(Value::Null) => uuid::Uuid::now_v7().to_string(),
        Some(Value::String(s)) if s.trim().is_empty() => uuid::Uuid::now_v7().to_string(),
        Some(Value::String(s)) => {
            if let Some(problem) = crate::template::name_problem(s) {
                return Err(KayentaApiError::Bad(format!(
                    "Canary config id '{s}' is not usable: {problem}"
                )));
            }
            s.clone()
        }
        Some(_) => return Err(KayentaApiError::Bad("id: expected a string".into())),
    };
    if state.store.get_template(&id, None).await?.is_some() {
        return Err(KayentaApiError::Bad(format!(
            "Canary config '{id}' already exists."
        )));
    }
    let source = translate(&id, &config)?;
    let now = millis(state.store.clock().now());
    let created = config
        .get("createdTimestamp")
        .and_then(Value::as_i64)
        .unwrap_or(now);
    let updated = config
        .get("updatedTimestamp")
        .and_then(Value::as_i64)
        .unwrap_or(created);
    let config = stamped(config, &id, created, updated);
    state
        .store
        .put_kayenta_config(&id, &source, &config.to_string())
        .await?;
    tracing::info!(canary_config = %id, "Kayenta canary config stored");
    Ok(HttpResponse::Ok().json(json!({ "canaryConfigId": id })))
}

/// `GET /canaryConfig/{id}`: the canary config as stored.
#[utoipa::path(
    operation_id = "get_kayenta_config",
    tag = "kayenta",
    params(("id" = String, Path, description = "Id")),
    responses(
        (status = 200, description = "The canary config as stored"),
        (status = 404, description = "No such config: `{message}`"),
    ),
    security(("bearer" = ["read"]))
)]
#[get("/canaryConfig/{id}", guard = "crate::api::auth::read")]
pub async fn get_config(state: web::Data<AppState>, id: web::Path<String>) -> Answer {
    let Some(stored) = state.store.get_kayenta_config(&id).await? else {
        return Err(config_not_found(&id));
    };
    let config: Value = serde_json::from_str(&stored.config).unwrap_or(Value::Null);
    Ok(HttpResponse::Ok().json(config))
}

/// `PUT /canaryConfig/{id}`: replaces a canary config (a new template version),
/// `{canaryConfigId}`. As in Kayenta, an unknown id is a 400.
#[utoipa::path(
    operation_id = "put_kayenta_config",
    tag = "kayenta",
    params(("id" = String, Path, description = "Id")),
    responses(
        (status = 200, description = "Stored: `{canaryConfigId}`"),
        (status = 400, description = "Invalid config or unknown id: `{message}`"),
    ),
    security(("bearer" = ["admin"]))
)]
#[put("/canaryConfig/{id}", guard = "crate::api::auth::admin")]
pub async fn put_config(
    state: web::Data<AppState>,
    id: web::Path<String>,
    payload: web::Payload,
) -> Answer {
    let bytes = body::read(payload, state.settings.server.max_body_bytes).await?;
    let config = json_body(&bytes)?;
    let Some(existing) = state.store.get_kayenta_config(&id).await? else {
        return Err(KayentaApiError::Bad(format!(
            "Canary config '{id}' does not exist."
        )));
    };
    let source = translate(&id, &config)?;
    let before: Value = serde_json::from_str(&existing.config).unwrap_or(Value::Null);
    let created = before
        .get("createdTimestamp")
        .and_then(Value::as_i64)
        .unwrap_or_else(|| millis(existing.template.created_at));
    let now = millis(state.store.clock().now());
    let config = stamped(config, &id, created, now);
    let outcome = state
        .store
        .put_kayenta_config(&id, &source, &config.to_string())
        .await?;
    let version = match outcome {
        PutOutcome::Created(v) | PutOutcome::Unchanged(v) => v,
    };
    tracing::info!(canary_config = %id, version, "Kayenta canary config updated");
    Ok(HttpResponse::Ok().json(json!({ "canaryConfigId": id.into_inner() })))
}

/// `DELETE /canaryConfig/{id}`: 204; its versions stay readable as templates, so that the
/// judgments made with it stay explainable.
#[utoipa::path(
    operation_id = "delete_kayenta_config",
    tag = "kayenta",
    params(("id" = String, Path, description = "Id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such config: `{message}`"),
    ),
    security(("bearer" = ["admin"]))
)]
#[delete("/canaryConfig/{id}", guard = "crate::api::auth::admin")]
pub async fn delete_config(state: web::Data<AppState>, id: web::Path<String>) -> Answer {
    if state.store.get_kayenta_config(&id).await?.is_none() {
        return Err(config_not_found(&id));
    }
    state.store.delete_template(&id).await?;
    tracing::info!(canary_config = %id, "Kayenta canary config deleted");
    Ok(HttpResponse::NoContent().finish())
}

/// One side of a scope in a `CanaryExecutionRequest`.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScopeSide {
    /// The scope (`${scope}`).
    #[serde(default)]
    pub scope: String,
    /// The location (`${location}`).
    #[serde(default)]
    pub location: Option<String>,
    /// Kayenta's older name of `location`.
    #[serde(default)]
    pub region: Option<String>,
    /// Window start (ISO 8601).
    pub start: Option<Value>,
    /// Window end (ISO 8601).
    pub end: Option<Value>,
    /// Step in seconds.
    #[serde(default)]
    pub step: Option<i64>,
    /// Extended scope parameters: template arguments.
    #[serde(default)]
    pub extended_scope_params: BTreeMap<String, String>,
}

/// A named scope: the control (baseline) and the experiment (canary).
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScopePair {
    /// Baseline.
    pub control_scope: ScopeSide,
    /// Canary.
    pub experiment_scope: ScopeSide,
}

/// Score thresholds of a request.
#[derive(Debug, Clone, Copy, Deserialize, serde::Serialize)]
pub struct RequestThresholds {
    /// Pass at or above.
    pub pass: f64,
    /// Marginal at or above.
    pub marginal: f64,
}

/// Kayenta's `CanaryExecutionRequest`.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionRequest {
    /// Scopes by name.
    pub scopes: BTreeMap<String, ScopePair>,
    /// Score thresholds (default: the config's).
    pub thresholds: Option<RequestThresholds>,
}

fn side_location(side: &ScopeSide) -> Option<String> {
    side.location
        .clone()
        .or_else(|| side.region.clone())
        .filter(|l| !l.is_empty())
}

/// True when `template` is one the import made for Kayenta's InfluxDB (its source is an
/// InfluxDB one, and it takes the argument `scope_tag`): Kayenta's scopes are `TAG:VALUE` there.
fn influx_scoped(settings: &crate::config::Settings, template: &crate::template::Template) -> bool {
    template.args.contains_key("scope_tag")
        && settings
            .sources
            .get(&template.source)
            .is_some_and(|s| s.kind == "influxdb")
}

/// Kayenta's InfluxDB scope `TAG:VALUE` (its `InfluxDbQueryBuilder` splits on `:` and wants
/// two parts) as canaryd's scope `VALUE` and argument `scope_tag` `TAG`, for the control and
/// the experiment of `path`. A scope without `:` is canaryd's own (the tag from
/// `extendedScopeParams.scope_tag` or the template's default). The two tags must agree, the
/// template having one `scope_tag`.
fn split_influx_scopes(
    path: &str,
    control: &str,
    experiment: &str,
) -> Result<(String, String, Option<String>), KayentaApiError> {
    let split = |side: &str, scope: &str| -> Result<(String, Option<String>), KayentaApiError> {
        if !scope.contains(':') {
            return Ok((scope.to_string(), None));
        }
        match scope.split(':').collect::<Vec<_>>().as_slice() {
            [tag, value] if !tag.is_empty() && !value.is_empty() => {
                Ok((value.to_string(), Some(tag.to_string())))
            }
            _ => Err(KayentaApiError::Bad(format!(
                "{path}.{side}: Scope expected in the format of 'name:value'. e.g. \
                 autoscaling_group:myapp-prod-v002, received: {scope}"
            ))),
        }
    };
    let (c, c_tag) = split("controlScope", control)?;
    let (e, e_tag) = split("experimentScope", experiment)?;
    match (c_tag, e_tag) {
        (Some(a), Some(b)) if a != b => Err(KayentaApiError::Bad(format!(
            "{path}: the InfluxDB scope tags differ, '{a}' (controlScope) and '{b}' \
             (experimentScope); the canary config's template takes one `scope_tag`."
        ))),
        (a, b) => Ok((c, e, a.or(b))),
    }
}

/// The judgment input of an execution request for `template` (by its name; the caller sets
/// the version, or the text of an inline config).
fn input_of(
    settings: &crate::config::Settings,
    template: &crate::template::Template,
    req: &ExecutionRequest,
    request_id: String,
) -> Result<JudgmentInput, KayentaApiError> {
    let mut scopes = req.scopes.iter();
    let (name, pair) = match (scopes.next(), scopes.next()) {
        (Some(one), None) => one,
        (None, _) => {
            return Err(KayentaApiError::Bad(
                "scopes: at least one scope is required.".into(),
            ))
        }
        (Some(_), Some(_)) => {
            return Err(KayentaApiError::Bad(format!(
                "scopes: canaryd judges one scope per execution; this request has {} ({}).",
                req.scopes.len(),
                req.scopes.keys().cloned().collect::<Vec<_>>().join(", ")
            )))
        }
    };
    let (control, experiment) = (&pair.control_scope, &pair.experiment_scope);
    let field = |side: &str, f: &str| format!("scopes.{name}.{side}.{f}");
    for (side, s) in [("controlScope", control), ("experimentScope", experiment)] {
        if s.scope.trim().is_empty() {
            return Err(KayentaApiError::Bad(format!(
                "{}: required.",
                field(side, "scope")
            )));
        }
    }
    let time = |side: &str, f: &str, v: &Option<Value>| -> Result<DateTime<Utc>, KayentaApiError> {
        let path = field(side, f);
        match v {
            None | Some(Value::Null) => Err(KayentaApiError::Bad(format!("{path}: required."))),
            Some(v) => super::judgments::time_field(&path, v)
                .map_err(|e| KayentaApiError::Bad(e.to_string())),
        }
    };
    let start = time("controlScope", "start", &control.start)?;
    let end = time("controlScope", "end", &control.end)?;
    let (e_start, e_end) = (
        time("experimentScope", "start", &experiment.start)?,
        time("experimentScope", "end", &experiment.end)?,
    );
    if (start, end) != (e_start, e_end) {
        return Err(KayentaApiError::Bad(format!(
            "scopes.{name}: canaryd judges control and experiment over one window; \
             controlScope is {} to {}, experimentScope {} to {}.",
            iso(start),
            iso(end),
            iso(e_start),
            iso(e_end)
        )));
    }
    let step = match (control.step, experiment.step) {
        (Some(a), Some(b)) if a > 0 && b > 0 && a != b => {
            return Err(KayentaApiError::Bad(format!(
                "scopes.{name}: control step {a} and experiment step {b} differ."
            )))
        }
        (Some(a), _) if a > 0 => Some(a),
        (_, Some(b)) if b > 0 => Some(b),
        _ => None,
    };
    let step_seconds = step.map(|s| u64::try_from(s).unwrap_or(0));
    // Template arguments: `location` and the extended scope parameters, each one value for
    // both sides (the template has one of each), given only where the template declares it.
    let mut args = BTreeMap::new();
    let mut put_arg = |key: &str, a: Option<String>, b: Option<String>| match (a, b) {
        (Some(a), Some(b)) if a != b => Err(KayentaApiError::Bad(format!(
            "scopes.{name}: {key} differs between controlScope ('{a}') and experimentScope \
             ('{b}'); the canary config's template takes one value for both."
        ))),
        (a, b) => {
            if let Some(v) = a.or(b) {
                if template.args.contains_key(key) {
                    args.insert(key.to_string(), v);
                }
            }
            Ok(())
        }
    };
    put_arg(
        "location",
        side_location(control),
        side_location(experiment),
    )?;
    let keys: std::collections::BTreeSet<&String> = control
        .extended_scope_params
        .keys()
        .chain(experiment.extended_scope_params.keys())
        .collect();
    for key in keys {
        put_arg(
            key,
            control.extended_scope_params.get(key).cloned(),
            experiment.extended_scope_params.get(key).cloned(),
        )?;
    }
    let (mut baseline, mut canary) = (control.scope.clone(), experiment.scope.clone());
    if influx_scoped(settings, template) {
        let (c, e, tag) =
            split_influx_scopes(&format!("scopes.{name}"), &control.scope, &experiment.scope)?;
        (baseline, canary) = (c, e);
        if let Some(tag) = tag {
            put_arg("scope_tag", Some(tag.clone()), Some(tag))?;
        }
    }
    Ok(JudgmentInput {
        template: TemplateRef::Named {
            name: template.name.clone(),
            version: None,
        },
        args,
        points: Points::Live {
            baseline,
            canary,
            start,
            end,
            step_seconds,
        },
        request_id,
        gate: None,
        sequential: None,
    })
}

/// `POST /canary/{canaryConfigId}`: judges the config now, live, over the request's window,
/// stores the judgment and answers `{canaryExecutionId}` (the judgment's id). The account
/// query parameters are ignored.
#[utoipa::path(
    operation_id = "create_kayenta_execution",
    tag = "kayenta",
    params(("canary_config_id" = String, Path, description = "Id")),
    responses(
        (status = 200, description = "Judged and stored: `{canaryExecutionId}`"),
        (status = 400, description = "Invalid request: `{message}`"),
        (status = 404, description = "No such config: `{message}`"),
    ),
    security(("bearer" = ["judge"]))
)]
#[post("/canary/{canary_config_id}", guard = "crate::api::auth::judge")]
pub async fn create_execution(
    state: web::Data<AppState>,
    request_id: RequestId,
    id: web::Path<String>,
    payload: web::Payload,
) -> Answer {
    let bytes = body::read(payload, state.settings.server.max_body_bytes).await?;
    let req: ExecutionRequest = serde_json::from_slice(&bytes).map_err(|e| {
        KayentaApiError::Bad(format!("The canary execution request is not valid: {e}"))
    })?;
    let Some(config) = state.store.get_kayenta_config(&id).await? else {
        return Err(config_not_found(&id));
    };
    let template = parse_template(&config.template.source, &format!("canary config {id}"))
        .map_err(service::ServiceError::from)?;
    let mut input = input_of(&state.settings, &template, &req, request_id.0)?;
    input.template = TemplateRef::Named {
        name: id.to_string(),
        version: Some(config.template.version),
    };
    let original: Value = serde_json::from_str(&config.config).unwrap_or(Value::Null);
    execute(&state, &id, original, &req, input).await
}

/// Judges `input`, stores the judgment and the Kayenta request (with the config judged) in one
/// transaction, answers `{canaryExecutionId}`.
async fn execute(
    state: &AppState,
    config_id: &str,
    config: Value,
    req: &ExecutionRequest,
    input: JudgmentInput,
) -> Answer {
    let stored = json!({"canaryExecutionRequest": req, "canaryConfig": config});
    let judgment = service::make_kayenta_judgment(
        &state.settings,
        &state.store,
        input,
        config_id,
        &stored.to_string(),
    )
    .await?;
    tracing::info!(canary_config = %config_id, judgment_id = %judgment.id, "Kayenta canary execution judged");
    Ok(HttpResponse::Ok().json(json!({ "canaryExecutionId": judgment.id })))
}

/// Kayenta's `CanaryAdhocExecutionRequest`: a config given inline.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdhocRequest {
    /// The canary config.
    pub canary_config: Value,
    /// The execution request.
    pub execution_request: ExecutionRequest,
}

/// `POST /canary`: `{canaryConfig, executionRequest}`, a config given inline (translated, not
/// stored as a config), judged as `POST /canary/{canaryConfigId}` judges a stored one.
#[utoipa::path(
    operation_id = "create_kayenta_adhoc_execution",
    tag = "kayenta",
    responses(
        (status = 200, description = "Judged and stored: `{canaryExecutionId}`"),
        (status = 400, description = "Invalid config or request: `{message}`"),
    ),
    security(("bearer" = ["judge"]))
)]
#[post("/canary", guard = "crate::api::auth::judge")]
pub async fn create_adhoc_execution(
    state: web::Data<AppState>,
    request_id: RequestId,
    payload: web::Payload,
) -> Answer {
    let bytes = body::read(payload, state.settings.server.max_body_bytes).await?;
    let req: AdhocRequest = serde_json::from_slice(&bytes).map_err(|e| {
        KayentaApiError::Bad(format!(
            "The canary adhoc execution request is not valid: {e}"
        ))
    })?;
    let name = req
        .canary_config
        .get("name")
        .and_then(Value::as_str)
        .map(|n| {
            n.chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '-' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect::<String>()
        })
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "adhoc".to_string());
    let source = translate(&name, &req.canary_config)?;
    let template = parse_template(&source, "canaryConfig").map_err(service::ServiceError::from)?;
    let mut input = input_of(
        &state.settings,
        &template,
        &req.execution_request,
        request_id.0,
    )?;
    input.template = TemplateRef::Inline(source);
    let config_id = req
        .canary_config
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    execute(
        &state,
        &config_id,
        req.canary_config,
        &req.execution_request,
        input,
    )
    .await
}

/// Kayenta's label of a metric classification.
fn metric_label(c: &str) -> &'static str {
    match c {
        "pass" => "Pass",
        "high" => "High",
        "low" => "Low",
        "nodata" | "nodata_fail" => "Nodata",
        _ => "Error",
    }
}

/// Kayenta's label of a score under thresholds (NetflixACAJudge's score classification).
fn score_label(score: f64, pass: f64, marginal: f64) -> &'static str {
    if score >= pass {
        "Pass"
    } else if score >= marginal {
        "Marginal"
    } else {
        "Fail"
    }
}

fn stats_of(v: &Value) -> Value {
    let get = |k: &str| v.get(k).cloned().unwrap_or(Value::Null);
    json!({"stats": {"count": get("count"), "mean": get("mean"), "min": get("min"),
        "max": get("max"), "std": get("std"), "median": get("median")}})
}

/// The `judgeResult` of a report, in Kayenta's shape, classified under `pass`/`marginal`.
fn judge_result(report: &Report, pass: f64, marginal: f64) -> Value {
    let report_json = serde_json::to_value(report).unwrap_or_default();
    let metrics = report_json
        .get("metrics")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let results: Vec<Value> = metrics
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let text = |k: &str| m.get(k).and_then(Value::as_str).unwrap_or_default();
            let group = text("group");
            json!({
                "name": text("name"),
                "id": i.to_string(),
                "tags": {},
                "classification": metric_label(text("classification")),
                "classificationReason": text("reason"),
                "groups": [group],
                "experimentMetadata": stats_of(m.get("canary").unwrap_or(&Value::Null)),
                "controlMetadata": stats_of(m.get("baseline").unwrap_or(&Value::Null)),
                "resultMetadata": {"ratio": m.get("mean_ratio").cloned().unwrap_or(Value::Null)},
                "critical": m.get("critical").and_then(Value::as_bool).unwrap_or(false),
                "muted": m.get("muted").and_then(Value::as_bool).unwrap_or(false),
            })
        })
        .collect();
    let group_scores: Vec<Value> = report
        .groups
        .iter()
        .map(|g| {
            json!({
                "name": g.name,
                "score": finite(g.score),
                "classification": score_label(finite(g.score), pass, marginal),
                "classificationReason": "",
            })
        })
        .collect();
    let score = finite(report.score);
    json!({
        "judgeName": crate::template::kayenta::NETFLIX_ACA_JUDGE,
        "results": results,
        "groupScores": group_scores,
        "score": {
            "score": score,
            "classification": score_label(score, pass, marginal),
            "classificationReason": report.reason,
        },
    })
}

fn finite(x: f64) -> f64 {
    if x.is_finite() {
        x
    } else {
        0.0
    }
}

/// `GET /canary/{canaryExecutionId}`: the judgment as Kayenta's `CanaryExecutionStatusResponse`.
/// A judgment is made when it is posted, so the execution is always complete.
#[utoipa::path(
    operation_id = "get_kayenta_execution",
    tag = "kayenta",
    params(("canary_execution_id" = String, Path, description = "Id")),
    responses(
        (status = 200, description = "Kayenta's CanaryExecutionStatusResponse"),
        (status = 404, description = "No such execution: `{message}`"),
    ),
    security(("bearer" = ["read"]))
)]
#[get("/canary/{canary_execution_id}", guard = "crate::api::auth::read")]
pub async fn get_execution(state: web::Data<AppState>, id: web::Path<String>) -> Answer {
    let not_found =
        || KayentaApiError::NotFound(format!("No canary execution with id '{id}' was found."));
    let Some(record) = state.store.get_judgment(&id).await? else {
        return Err(not_found());
    };
    let Some(execution) = state.store.get_kayenta_execution(&id).await? else {
        return Err(not_found());
    };
    let judgment = service::judgment_of(&record, false)?;
    let stored: Value = serde_json::from_str(&execution.request).unwrap_or(Value::Null);
    let request = stored
        .get("canaryExecutionRequest")
        .cloned()
        .unwrap_or(Value::Null);
    let config = stored.get("canaryConfig").cloned().unwrap_or(Value::Null);
    let report = &judgment.report;
    let (pass, marginal) = match serde_json::from_value::<RequestThresholds>(
        request.get("thresholds").cloned().unwrap_or(Value::Null),
    ) {
        Ok(t) => (t.pass, t.marginal),
        Err(_) => (report.thresholds.pass, report.thresholds.marginal),
    };
    let created = judgment.created_at;
    let mut out = Map::new();
    out.insert("complete".into(), json!(true));
    out.insert("status".into(), json!("succeeded"));
    out.insert("executionStatus".into(), json!("SUCCEEDED"));
    out.insert("stageStatus".into(), json!({}));
    out.insert("pipelineId".into(), json!(judgment.id));
    out.insert("canaryConfigId".into(), json!(execution.config_id));
    out.insert("config".into(), config);
    out.insert("canaryExecutionRequest".into(), request);
    let duration = match (record.window_start, record.window_end) {
        (Some(s), Some(e)) => json!(format!("PT{}S", (e - s).num_seconds())),
        _ => Value::Null,
    };
    out.insert(
        "result".into(),
        json!({"judgeResult": judge_result(report, pass, marginal), "canaryDuration": duration}),
    );
    for (key, t) in [
        ("buildTime", created),
        ("startTime", created),
        ("endTime", created),
    ] {
        out.insert(format!("{key}Millis"), json!(millis(t)));
        out.insert(format!("{key}Iso"), json!(iso(t)));
    }
    out.insert(
        "canarydJudgment".into(),
        json!(format!("/api/v1/judgments/{}", judgment.id)),
    );
    Ok(HttpResponse::Ok().json(Value::Object(out)))
}

/// A scope of Kayenta's `CanaryAnalysisExecutionRequest`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnalysisScope {
    /// The scope's name (canaryd judges one).
    #[serde(default)]
    pub scope_name: Option<String>,
    /// Baseline.
    pub control_scope: String,
    /// Baseline location.
    #[serde(default)]
    pub control_location: Option<String>,
    /// Canary.
    pub experiment_scope: String,
    /// Canary location.
    #[serde(default)]
    pub experiment_location: Option<String>,
    /// When the canary started (default: now).
    #[serde(default)]
    pub start_time_iso: Option<String>,
    /// When it ends (gives the lifetime when `lifetimeDurationMins` is absent).
    #[serde(default)]
    pub end_time_iso: Option<String>,
    /// Step in seconds.
    #[serde(default)]
    pub step: Option<i64>,
    /// Extended scope parameters: template arguments.
    #[serde(default)]
    pub extended_scope_params: BTreeMap<String, String>,
}

/// Kayenta's `CanaryAnalysisExecutionRequest`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnalysisRequest {
    /// Scopes (canaryd judges one).
    pub scopes: Vec<AnalysisScope>,
    /// How long intervals are judged.
    #[serde(default)]
    pub lifetime_duration_mins: Option<f64>,
    /// Wait before the first interval.
    #[serde(default)]
    pub begin_after_mins: Option<f64>,
    /// Window of each judgment; 0: from the start, growing.
    #[serde(default)]
    pub lookback_mins: Option<f64>,
    /// Distance between two judgments (default: the lifetime, one judgment).
    #[serde(default)]
    pub analysis_interval_mins: Option<f64>,
}

/// `POST /standalone_canary_analysis/{canaryConfigId}`: a Kayenta `CanaryAnalysisExecutionRequest`
/// as a canaryd scheduled analysis (`lifetimeDurationMins`, `analysisIntervalMins`,
/// `beginAfterMins`, `lookbackMins`), `{canaryAnalysisExecutionId}` (the analysis id).
#[utoipa::path(
    operation_id = "create_kayenta_standalone_analysis",
    tag = "kayenta",
    params(("canary_config_id" = String, Path, description = "Id")),
    responses(
        (status = 200, description = "Scheduled: `{canaryAnalysisExecutionId}`"),
        (status = 400, description = "Invalid request: `{message}`"),
        (status = 404, description = "No such config: `{message}`"),
    ),
    security(("bearer" = ["judge"]))
)]
#[post(
    "/standalone_canary_analysis/{canary_config_id}",
    guard = "crate::api::auth::judge"
)]
pub async fn create_standalone(
    state: web::Data<AppState>,
    request_id: RequestId,
    id: web::Path<String>,
    payload: web::Payload,
) -> Answer {
    let bytes = body::read(payload, state.settings.server.max_body_bytes).await?;
    let req: AnalysisRequest = serde_json::from_slice(&bytes).map_err(|e| {
        KayentaApiError::Bad(format!(
            "The canary analysis execution request is not valid: {e}"
        ))
    })?;
    let Some(config) = state.store.get_kayenta_config(&id).await? else {
        return Err(config_not_found(&id));
    };
    let template = parse_template(&config.template.source, &format!("canary config {id}"))
        .map_err(service::ServiceError::from)?;
    let spec = analysis_spec(&state.settings, &template, config.template.version, &req)?;
    let detail = service::analyses::create_analysis(
        &state.settings,
        &state.store,
        &state.wake,
        request_id.0,
        spec,
    )
    .await?;
    Ok(HttpResponse::Ok().json(json!({"canaryAnalysisExecutionId": detail.analysis.id})))
}

/// The canaryd analysis of a `CanaryAnalysisExecutionRequest` over version `version` of
/// `template` (named by its stored name).
fn analysis_spec(
    settings: &crate::config::Settings,
    template: &crate::template::Template,
    version: i64,
    req: &AnalysisRequest,
) -> Result<service::analyses::AnalysisSpec, KayentaApiError> {
    let scope = match req.scopes.as_slice() {
        [one] => one,
        [] => {
            return Err(KayentaApiError::Bad(
                "scopes: at least one scope is required.".into(),
            ))
        }
        many => {
            return Err(KayentaApiError::Bad(format!(
                "scopes: canaryd judges one scope per analysis; this request has {}.",
                many.len()
            )))
        }
    };
    let time = |f: &str, v: &Option<String>| -> Result<Option<DateTime<Utc>>, KayentaApiError> {
        v.as_ref()
            .filter(|s| !s.is_empty())
            .map(|s| {
                super::judgments::time_field(&format!("scopes[0].{f}"), &json!(s))
                    .map_err(|e| KayentaApiError::Bad(e.to_string()))
            })
            .transpose()
    };
    let start = time("startTimeIso", &scope.start_time_iso)?;
    let end = time("endTimeIso", &scope.end_time_iso)?;
    let lifetime = match (req.lifetime_duration_mins, start, end) {
        (Some(m), _, _) => m,
        (None, Some(s), Some(e)) => (e - s).num_seconds() as f64 / 60.0,
        _ => {
            return Err(KayentaApiError::Bad(
                "lifetimeDurationMins: required (or scopes[0].startTimeIso and endTimeIso).".into(),
            ))
        }
    };
    let mut args = BTreeMap::new();
    let location = [&scope.control_location, &scope.experiment_location];
    match location {
        [Some(a), Some(b)] if !a.is_empty() && !b.is_empty() && a != b => {
            return Err(KayentaApiError::Bad(format!(
                "scopes[0]: controlLocation '{a}' and experimentLocation '{b}' differ; the canary \
                 config's template takes one location for both."
            )))
        }
        [a, b] => {
            if let Some(l) = a.clone().or(b.clone()).filter(|l| !l.is_empty()) {
                if template.args.contains_key("location") {
                    args.insert("location".to_string(), l);
                }
            }
        }
    }
    for (k, v) in &scope.extended_scope_params {
        if template.args.contains_key(k) {
            args.insert(k.clone(), v.clone());
        }
    }
    let (mut baseline, mut canary) = (scope.control_scope.clone(), scope.experiment_scope.clone());
    if influx_scoped(settings, template) {
        let (c, e, tag) =
            split_influx_scopes("scopes[0]", &scope.control_scope, &scope.experiment_scope)?;
        (baseline, canary) = (c, e);
        if let Some(tag) = tag {
            args.insert("scope_tag".to_string(), tag);
        }
    }
    Ok(service::analyses::AnalysisSpec {
        template: template.name.clone(),
        template_version: Some(version),
        args,
        baseline,
        canary,
        start,
        lifetime_minutes: lifetime,
        interval_minutes: req.analysis_interval_mins.unwrap_or(lifetime),
        begin_after_minutes: req.begin_after_mins.unwrap_or(0.0),
        lookback_minutes: req.lookback_mins.unwrap_or(0.0),
        step_seconds: scope.step.filter(|s| *s > 0).map(|s| s.unsigned_abs()),
        callback_url: None,
        callback_secret: None,
        stop_on_fail: None,
        sequential: None,
    })
}

/// Kayenta's `CanaryAnalysisAdhocExecutionRequest`: a config given inline with a
/// `CanaryAnalysisExecutionRequest`. Both are required (`@NotNull` in Kayenta).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdhocAnalysisRequest {
    /// The canary config.
    #[serde(default)]
    pub canary_config: Option<Value>,
    /// The analysis request.
    #[serde(default)]
    pub execution_request: Option<AnalysisRequest>,
}

/// `POST /standalone_canary_analysis`: `{canaryConfig, executionRequest}`, a standalone
/// analysis of a config given inline. The config is translated and checked, and its
/// translation kept as a deleted template version (`kayenta-adhoc-UUID`, which the analysis
/// pins and no listing shows), so it is not stored as a canary config; when the analysis
/// cannot be made, nothing is kept.
#[utoipa::path(
    operation_id = "create_kayenta_adhoc_standalone_analysis",
    tag = "kayenta",
    responses(
        (status = 200, description = "Scheduled: `{canaryAnalysisExecutionId}`"),
        (status = 400, description = "Invalid config or request: `{message}`"),
    ),
    security(("bearer" = ["judge"]))
)]
#[post("/standalone_canary_analysis", guard = "crate::api::auth::judge")]
pub async fn create_adhoc_standalone(
    state: web::Data<AppState>,
    request_id: RequestId,
    payload: web::Payload,
) -> Answer {
    let bytes = body::read(payload, state.settings.server.max_body_bytes).await?;
    let req: AdhocAnalysisRequest = serde_json::from_slice(&bytes).map_err(|e| {
        KayentaApiError::Bad(format!(
            "The canary analysis adhoc execution request is not valid: {e}"
        ))
    })?;
    // Kayenta's own words for the two missing parts.
    let Some(canary_config) = req.canary_config.filter(|c| !c.is_null()) else {
        return Err(KayentaApiError::Bad(
            "canaryConfig must be provided for ad-hoc requests".into(),
        ));
    };
    let Some(execution_request) = req.execution_request else {
        return Err(KayentaApiError::Bad(
            "executionRequest must be provided for ad-hoc requests".into(),
        ));
    };
    let name = format!("{ADHOC_PREFIX}{}", uuid::Uuid::now_v7());
    let source = translate(&name, &canary_config)?;
    let template = parse_template(&source, "canaryConfig").map_err(service::ServiceError::from)?;
    let spec = analysis_spec(&state.settings, &template, 1, &execution_request)?;
    state
        .store
        .put_adhoc_template(&name, &source, &canary_config.to_string())
        .await?;
    let made = service::analyses::create_analysis(
        &state.settings,
        &state.store,
        &state.wake,
        request_id.0,
        spec,
    )
    .await;
    match made {
        Ok(detail) => {
            Ok(HttpResponse::Ok().json(json!({"canaryAnalysisExecutionId": detail.analysis.id})))
        }
        Err(e) => {
            if let Err(gone) = state.store.remove_adhoc_template(&name).await {
                tracing::warn!(template = %name, error = %gone, "ad-hoc template not removed");
            }
            Err(e.into())
        }
    }
}

/// The name prefix of the template of an ad-hoc standalone analysis.
const ADHOC_PREFIX: &str = "kayenta-adhoc-";

/// `GET /standalone_canary_analysis/{id}`: the analysis as Kayenta's
/// `CanaryAnalysisExecutionStatusResponse`.
#[utoipa::path(
    operation_id = "get_kayenta_standalone_analysis",
    tag = "kayenta",
    params(("id" = String, Path, description = "Id")),
    responses(
        (status = 200, description = "Kayenta's CanaryAnalysisExecutionStatusResponse"),
        (status = 404, description = "No such analysis: `{message}`"),
    ),
    security(("bearer" = ["read"]))
)]
#[get("/standalone_canary_analysis/{id}", guard = "crate::api::auth::read")]
pub async fn get_standalone(state: web::Data<AppState>, id: web::Path<String>) -> Answer {
    use crate::store::{AnalysisState, Verdict};
    let detail = match service::analyses::analysis_detail(&state.store, &id).await {
        Ok(d) => d,
        Err(service::ServiceError::AnalysisNotFound { .. }) => {
            return Err(KayentaApiError::NotFound(format!(
                "No canary analysis execution with id '{id}' was found."
            )))
        }
        Err(e) => return Err(e.into()),
    };
    let a = &detail.analysis;
    let complete = matches!(a.state, AnalysisState::Completed | AnalysisState::Cancelled);
    let status = match a.state {
        AnalysisState::Pending => "NOT_STARTED",
        AnalysisState::Running => "RUNNING",
        AnalysisState::Completed => "SUCCEEDED",
        AnalysisState::Cancelled => "CANCELED",
    };
    let results: Vec<Value> = detail
        .intervals
        .iter()
        .map(|i| {
            json!({
                "executionId": i.judgment_id,
                "executionStatus": if i.error.is_some() { "TERMINAL" } else { "SUCCEEDED" },
                "exception": i.error,
                "judgementStartTimeIso": iso(i.start),
                "judgementStartTimeMillis": millis(i.start),
                "judgementEndTimeIso": iso(i.end),
                "judgementEndTimeMillis": millis(i.end),
                "score": finite(i.score),
                "warnings": [],
            })
        })
        .collect();
    let scores: Vec<f64> = detail.intervals.iter().map(|i| finite(i.score)).collect();
    let mut out = Map::new();
    out.insert("pipelineId".into(), json!(a.id));
    out.insert("complete".into(), json!(complete));
    out.insert("executionStatus".into(), json!(status));
    out.insert("status".into(), json!(status.to_lowercase()));
    // An ad-hoc analysis has no canary config id, as in Kayenta.
    let config_id = Some(&a.template).filter(|t| !t.starts_with(ADHOC_PREFIX));
    out.insert("canaryConfigId".into(), json!(config_id));
    if complete {
        out.insert(
            "canaryAnalysisExecutionResult".into(),
            json!({
                "didPassThresholds": a.verdict == Some(Verdict::Pass),
                "hasWarnings": false,
                "canaryScoreMessage": a.reason,
                "canaryScores": scores,
                "canaryExecutionResults": results,
            }),
        );
    } else {
        out.insert("canaryExecutionResults".into(), json!(results));
    }
    out.insert("buildTimeMillis".into(), json!(millis(a.created_at)));
    out.insert("buildTimeIso".into(), json!(iso(a.created_at)));
    out.insert("startTimeMillis".into(), json!(millis(a.start_at)));
    out.insert("startTimeIso".into(), json!(iso(a.start_at)));
    out.insert(
        "canarydAnalysis".into(),
        json!(format!("/api/v1/analyses/{}", a.id)),
    );
    Ok(HttpResponse::Ok().json(Value::Object(out)))
}
