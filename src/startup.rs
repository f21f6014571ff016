//! Building the service: open and migrate the store, load the template files, bind the
//! listener, mount the routes (with the auth and request-observing middleware) and start the
//! scheduler's workers and the judgment pruner.
//!
//! [`Application::build`] binds the listener (port 0 picks a free port, see
//! [`Application::port`]); [`Application::run_until_stopped`] serves until SIGTERM/SIGINT, then
//! drains in-flight requests for up to `server.shutdown_timeout_seconds`.

use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::{Server, ServerHandle};
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpServer};
use tokio::sync::Notify;
use utoipa_actix_web::AppExt;

use crate::api::{auth, observe, openapi_json, routes, AppState};
use crate::clock::Clock;
use crate::config::Settings;
use crate::store::{PutOutcome, Store, StoreError};
use crate::template::{parse_template, Diagnostic, TemplateError};

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The `[auth]` section is unusable.
    #[error("{0}")]
    Auth(String),
    /// The store could not be opened or migrated.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A template file is invalid: every problem.
    #[error("template files in {dir}: {}", .problems.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n"))]
    Templates {
        /// The directory.
        dir: String,
        /// Every problem.
        problems: Vec<Diagnostic>,
    },
    /// The template directory could not be read.
    #[error("cannot read template directory {dir}: {source}")]
    TemplateDir {
        /// The directory.
        dir: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The listen address could not be bound.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// `server.listen`.
        address: String,
        /// The cause.
        source: std::io::Error,
    },
}

/// Stores every template file of `dir` (`*.yaml`, `*.yml`) as a new version when its text
/// changed. Missing directory: nothing to load.
pub async fn load_template_dir(store: &Store, dir: &str) -> Result<usize, StartError> {
    let path = Path::new(dir);
    if !path.is_dir() {
        tracing::warn!(
            dir,
            "template directory not found: no template files loaded"
        );
        return Ok(0);
    }
    let read_err = |source| StartError::TemplateDir {
        dir: dir.to_string(),
        source,
    };
    let mut files: Vec<_> = std::fs::read_dir(path)
        .map_err(read_err)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    files.sort();
    let mut parsed = Vec::new();
    let mut problems = Vec::new();
    for file in &files {
        let shown = file.display().to_string();
        let text = std::fs::read_to_string(file).map_err(read_err)?;
        match parse_template(&text, &shown) {
            Ok(t) => parsed.push((t.name, text, shown)),
            Err(TemplateError::Invalid(d)) => problems.extend(d),
            Err(other) => problems.push(Diagnostic {
                file: shown,
                line: 1,
                column: 1,
                field: "(file)".into(),
                message: other.to_string(),
            }),
        }
    }
    for (i, (name, _, file)) in parsed.iter().enumerate() {
        if let Some((_, _, first)) = parsed[..i].iter().find(|p| &p.0 == name) {
            problems.push(Diagnostic {
                file: file.clone(),
                line: 1,
                column: 1,
                field: "name".into(),
                message: format!("template '{name}' is also defined in {first}"),
            });
        }
    }
    if !problems.is_empty() {
        return Err(StartError::Templates {
            dir: dir.to_string(),
            problems,
        });
    }
    for (name, text, file) in &parsed {
        match store.put_template(name, text, file).await? {
            PutOutcome::Created(v) => {
                tracing::info!(template = %name, version = v, file = %file, "template loaded")
            }
            PutOutcome::Unchanged(v) => {
                tracing::debug!(template = %name, version = v, "template unchanged")
            }
        }
    }
    Ok(parsed.len())
}

/// The service, bound and ready to run.
pub struct Application {
    port: u16,
    server: Server,
    state: web::Data<AppState>,
    scheduler: Option<crate::scheduler::Scheduler>,
}

impl Application {
    /// Opens the store, loads templates and binds `server.listen`.
    ///
    /// # Errors
    /// See [`StartError`].
    pub async fn build(settings: Settings) -> Result<Application, StartError> {
        Application::build_with_clock(settings, Clock::system()).await
    }

    /// [`Application::build`] on `clock`: the store, the scheduler, the API and the service
    /// all read "now" from it.
    ///
    /// # Errors
    /// See [`StartError`].
    pub async fn build_with_clock(
        settings: Settings,
        clock: Clock,
    ) -> Result<Application, StartError> {
        let tokens = auth::Tokens::from_settings(&settings.auth).map_err(StartError::Auth)?;
        let store = Store::connect(&settings.store.url).await?.with_clock(clock);
        load_template_dir(&store, &settings.templates.dir).await?;
        let listener =
            TcpListener::bind(&settings.server.listen).map_err(|source| StartError::Bind {
                address: settings.server.listen.clone(),
                source,
            })?;
        let address = settings.server.listen.clone();
        let bind_err = |source| StartError::Bind {
            address: address.clone(),
            source,
        };
        let port = listener.local_addr().map_err(bind_err)?.port();
        let shutdown = settings.server.shutdown_timeout_seconds;
        let workers = settings.server.workers;
        tracing::info!(
            listen = %listener.local_addr().map_err(bind_err)?,
            store = %store.url_shown(),
            auth = if tokens.is_open() { "open (no tokens configured)" } else { "bearer tokens" },
            "canaryd serving"
        );
        let store = Arc::new(store);
        let wake = Arc::new(Notify::new());
        let scheduler = settings.scheduler.enabled.then(|| {
            crate::scheduler::Scheduler::new(settings.clone(), store.clone(), wake.clone())
        });
        let state = web::Data::new(AppState {
            settings,
            store,
            openapi: openapi_json(),
            wake,
        });
        let tokens = web::Data::new(tokens);
        let app_state = state.clone();
        let mut server = HttpServer::new(move || {
            App::new()
                .into_utoipa_app()
                .configure(routes)
                .into_app()
                .app_data(app_state.clone())
                .app_data(tokens.clone())
                .default_service(auth::not_found_or_refused())
                .wrap(from_fn(auth::require_token))
                .wrap(from_fn(observe::observe))
        })
        .shutdown_timeout(shutdown);
        if workers > 0 {
            server = server.workers(workers);
        }
        let server = server.listen(listener).map_err(bind_err)?.run();
        Ok(Application {
            port,
            server,
            state,
            scheduler,
        })
    }

    /// The port bound (the one picked when `server.listen` asks for port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A handle that stops the server (tests).
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until stopped (SIGTERM/SIGINT or [`ServerHandle::stop`]), running the scheduler
    /// (when enabled) and pruning old judgments hourly; drains in-flight requests before
    /// returning.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let pruner = tokio::spawn(prune_forever(self.state.clone()));
        let workers = self.scheduler.map(|s| s.spawn()).unwrap_or_default();
        let result = self.server.await;
        pruner.abort();
        // Work in progress is simply dropped: whatever it had not committed is claimed again
        // (by this instance after a restart, or by another once the lease expires).
        for w in workers {
            w.abort();
        }
        self.state.store.close().await;
        tracing::info!("canaryd stopped");
        result
    }
}

/// Deletes judgments older than `store.retention_days`, at start and then hourly; with
/// `store.retention_max_bytes`, also the oldest beyond that size, checked every minute.
async fn prune_forever(state: web::Data<AppState>) {
    let days = state.settings.store.retention_days;
    let max_bytes = state.settings.store.retention_max_bytes;
    if days == 0 && max_bytes == 0 {
        return;
    }
    let period = if max_bytes > 0 { 60 } else { 3600 };
    let mut tick = tokio::time::interval(Duration::from_secs(period));
    loop {
        tick.tick().await;
        if max_bytes > 0 {
            match state.store.prune_judgments_to_bytes(max_bytes).await {
                Ok(0) => {}
                Ok(n) => {
                    crate::telemetry::metrics::global().inc(
                        "canaryd_store_pruned_judgments_total",
                        &[],
                        n as f64,
                    );
                    tracing::info!(deleted = n, max_bytes, "judgments beyond the size pruned");
                }
                Err(e) => tracing::warn!(error = %e, "pruning judgments by size failed"),
            }
        }
        if days == 0 {
            continue;
        }
        let cutoff = state.store.clock().now() - chrono::Duration::days(days as i64);
        match state.store.prune_judgments(cutoff).await {
            Ok(0) => {}
            Ok(n) => {
                crate::telemetry::metrics::global().inc(
                    "canaryd_store_pruned_judgments_total",
                    &[],
                    n as f64,
                );
                tracing::info!(deleted = n, retention_days = days, "old judgments pruned");
            }
            Err(e) => tracing::warn!(error = %e, "pruning old judgments failed"),
        }
    }
}
