//! The real app in this process, for the API targets: the real `routes()`, the same middleware
//! as `Application::build` (auth, then the request observer), a real SQLite store in a scratch
//! directory, the shipped and fixture templates loaded. Every source name a template can use
//! (`prometheus`, the default) is a `file` source of recorded data holding every metric those
//! templates name, so that no fetch can fail: any 5xx is then the service's fault, not a
//! backend's. Requests go straight to the service (`actix_web::test`), with no socket: a case
//! takes well under a millisecond in release builds.

use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::middleware::from_fn;
use actix_web::test::TestRequest;
use actix_web::{web, App};
use canaryd::api::{auth, observe, AppState};
use canaryd::config::{Settings, SourceSettings};
use canaryd::store::Store;
use canaryd::template::parse_template;
use serde_json::{json, Value};
use utoipa_actix_web::AppExt;

use super::gen::real_templates;
use crate::support::{repo_root, Scratch};

/// An answer: status and body.
pub type Answer = (u16, Vec<u8>);

/// Runs `f` with a function that sends one request to a fresh in-process app.
pub fn with_app<R>(f: impl FnOnce(&dyn Fn(TestRequest) -> Answer) -> R) -> R {
    let system = actix_web::rt::System::new();
    let scratch = Scratch::new("fuzz-app");
    let data = scratch.file("recorded.json", &recorded_data().to_string());
    let mut settings = Settings::default();
    settings.store.url = format!("sqlite://{}", scratch.path.join("canaryd.db").display());
    settings.templates.dir = repo_root().join("analysis-templates").display().to_string();
    settings.sources.clear();
    for name in ["prometheus", "file"] {
        settings.sources.insert(
            name.into(),
            SourceSettings {
                kind: "file".into(),
                url: data.display().to_string(),
                ..SourceSettings::default()
            },
        );
    }
    let app = system.block_on(async {
        let store = Store::connect(&settings.store.url).await.expect("store");
        for dir in ["analysis-templates", "fixtures/templates"] {
            canaryd::startup::load_template_dir(
                &store,
                &repo_root().join(dir).display().to_string(),
            )
            .await
            .expect("load templates");
        }
        let tokens = web::Data::new(auth::Tokens::default());
        let state = web::Data::new(AppState {
            settings,
            store: Arc::new(store),
            openapi: String::new(),
            wake: Arc::new(tokio::sync::Notify::new()),
        });
        actix_web::test::init_service(
            App::new()
                .into_utoipa_app()
                .configure(canaryd::api::routes)
                .into_app()
                .app_data(state)
                .app_data(tokens)
                .default_service(auth::not_found_or_refused())
                .wrap(from_fn(auth::require_token))
                .wrap(from_fn(observe::observe)),
        )
        .await
    });
    let call = |req: TestRequest| -> Answer {
        system.block_on(async {
            // What actix's HTTP dispatcher does with an error out of the middleware.
            let response: ServiceResponse<_> = match app.call(req.to_request()).await {
                Ok(r) => r.map_into_boxed_body(),
                Err(e) => {
                    let r = e.as_response_error().error_response();
                    return (r.status().as_u16(), body_bytes(r.into_body()).await);
                }
            };
            let status = response.status().as_u16();
            (status, body_bytes(response.into_body()).await)
        })
    };
    let statuses = std::cell::RefCell::new(std::collections::BTreeMap::<u16, u64>::new());
    let counted = |req: TestRequest| -> Answer {
        let answer = call(req);
        *statuses.borrow_mut().entry(answer.0).or_default() += 1;
        answer
    };
    let out = f(&counted);
    // What the cases reached, so that a generator that only ever makes 400s shows.
    let seen: Vec<String> = statuses
        .borrow()
        .iter()
        .map(|(s, n)| format!("{s}: {n}"))
        .collect();
    eprintln!(
        "\nfuzz   answers by status (shrinking included): {}",
        seen.join(", ")
    );
    drop(scratch);
    out
}

async fn body_bytes(body: impl MessageBody) -> Vec<u8> {
    actix_web::body::to_bytes(body)
        .await
        .map(|b| b.to_vec())
        .unwrap_or_else(|_| b"(body could not be read)".to_vec())
}

/// Data for every metric of the shipped and fixture templates (and the fuzz template's), by
/// name: a modest regression on the canary side.
fn recorded_data() -> Value {
    let mut names: Vec<String> = real_templates()
        .iter()
        .filter_map(|t| parse_template(t, "t").ok())
        .flat_map(|t| t.metrics.into_iter().map(|m| m.name))
        .collect();
    names.extend(["latency", "m0", "m1", "requests"].map(String::from));
    let metrics: serde_json::Map<String, Value> = names
        .into_iter()
        .map(|n| {
            let base: Vec<f64> = (0..30).map(|i| 10.0 + f64::from(i % 7)).collect();
            let canary: Vec<f64> = base.iter().map(|v| v * 1.2).collect();
            (n, json!({"baseline": base, "canary": canary}))
        })
        .collect();
    json!({ "metrics": metrics })
}

/// The invariant of an API answer: 2xx, 3xx or 4xx (no 5xx), and a 4xx carries
/// `{"error": {"code": "...", "message": "..."}}`.
pub fn check_answer((status, body): &Answer) -> Result<(), String> {
    let text = || {
        String::from_utf8_lossy(body)
            .chars()
            .take(500)
            .collect::<String>()
    };
    if *status >= 500 {
        return Err(format!("status {status} for client input: {}", text()));
    }
    if *status >= 400 {
        let v: Value = serde_json::from_slice(body).map_err(|e| {
            format!(
                "status {status} with a body that is not JSON ({e}): {}",
                text()
            )
        })?;
        let ok = v["error"]["code"].as_str().is_some_and(|c| !c.is_empty())
            && v["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty());
        if !ok {
            return Err(format!(
                "status {status} without the error shape: {}",
                text()
            ));
        }
    }
    Ok(())
}
