//! Layered settings (CONTRACT §6): built-in defaults < `--config FILE` (TOML or YAML) <
//! environment `CANARYD__SECTION__KEY`. Secrets are never logged: [`Settings`] prints them
//! redacted.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// All settings.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// HTTP server.
    pub server: ServerSettings,
    /// Persistence.
    pub store: StoreSettings,
    /// Metric sources by name.
    pub sources: BTreeMap<String, SourceSettings>,
    /// Where templates are loaded from at start.
    pub templates: TemplateSettings,
    /// Logging.
    pub log: LogSettings,
    /// API tokens (CONTRACT §6); none configured means the API is open.
    pub auth: AuthSettings,
    /// Scheduled analyses and recurring checks.
    pub scheduler: SchedulerSettings,
    /// Callbacks of analyses and schedules.
    pub callbacks: CallbackSettings,
}

/// `[scheduler]`: the background worker that judges due intervals, runs recurring checks and
/// delivers callbacks.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SchedulerSettings {
    /// Run the worker in this process (several processes on one PostgreSQL share the work).
    pub enabled: bool,
    /// Delay after a window closes before it is judged (late samples).
    pub settle_seconds: f64,
    /// How long a claimed piece of work stays this instance's; an instance that dies has its
    /// work taken over once its leases expire.
    pub lease_seconds: f64,
    /// Longest sleep between two looks at the store for due work.
    pub poll_interval_ms: u64,
    /// Most pieces of work claimed at once.
    pub batch_size: i64,
    /// Most interval judgments in flight in this instance.
    pub max_concurrent_judgments: usize,
    /// Tries of an interval whose source fails, before it is recorded as failed.
    pub interval_attempts: i64,
    /// Wait before the next try of such an interval (times the tries so far).
    pub retry_delay_seconds: f64,
    /// This instance's id in leases and records; empty: host name, process id and a random
    /// suffix.
    pub instance_id: String,
}

impl Default for SchedulerSettings {
    fn default() -> Self {
        SchedulerSettings {
            enabled: true,
            settle_seconds: 30.0,
            lease_seconds: 60.0,
            poll_interval_ms: 1000,
            batch_size: 64,
            max_concurrent_judgments: 16,
            interval_attempts: 3,
            retry_delay_seconds: 15.0,
            instance_id: String::new(),
        }
    }
}

/// `[callbacks]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct CallbackSettings {
    /// Hosts a callback URL may name: exact names or addresses, `*.domain` for its
    /// subdomains, or `*` for any. Empty by default, so that whoever may start an analysis
    /// cannot make canaryd call into the network behind it.
    pub allowed_hosts: Vec<String>,
    /// Allow callbacks to loopback (127.0.0.0/8, ::1, 0.0.0.0, `localhost`, names resolving
    /// there). Off by default: a token of role `judge` must not make canaryd POST to this
    /// host's own services (a Prometheus admin API on 127.0.0.1, say).
    pub allow_loopback: bool,
    /// Allow callbacks to link-local addresses (169.254.0.0/16, fe80::/10), where cloud
    /// metadata services answer. Off by default.
    pub allow_link_local: bool,
    /// Time allowed for one try.
    pub timeout_seconds: f64,
    /// A callback not delivered within this long is given up.
    pub expire_after_minutes: f64,
    /// Longest wait between two tries (the wait doubles from 1 s).
    pub max_backoff_seconds: f64,
}

impl Default for CallbackSettings {
    fn default() -> Self {
        CallbackSettings {
            allowed_hosts: Vec::new(),
            allow_loopback: false,
            allow_link_local: false,
            timeout_seconds: 10.0,
            expire_after_minutes: 24.0 * 60.0,
            max_backoff_seconds: 300.0,
        }
    }
}

/// `[auth]`: who may call the API.
#[derive(Debug, Clone, Deserialize, Serialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct AuthSettings {
    /// Bearer tokens, stored as SHA-256 digests.
    pub tokens: Vec<TokenSettings>,
}

/// One API token.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TokenSettings {
    /// Who holds it (for logs and audit).
    pub name: String,
    /// Hex SHA-256 of the token; the token itself is never stored.
    pub token_sha256: String,
    /// What it may do.
    pub role: Role,
}

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Read judgments, analyses and templates.
    Read,
    /// Also make judgments and start analyses.
    Judge,
    /// Also manage templates.
    Admin,
}

impl Default for Settings {
    /// Everything at its default, with one source: `prometheus` at `http://127.0.0.1:9090`,
    /// the default `source` of a template.
    fn default() -> Self {
        let mut sources = BTreeMap::new();
        sources.insert(
            "prometheus".to_string(),
            SourceSettings {
                kind: "prometheus".into(),
                url: "http://127.0.0.1:9090".into(),
                ..SourceSettings::default()
            },
        );
        Settings {
            server: ServerSettings::default(),
            store: StoreSettings::default(),
            sources,
            templates: TemplateSettings::default(),
            log: LogSettings::default(),
            auth: AuthSettings::default(),
            scheduler: SchedulerSettings::default(),
            callbacks: CallbackSettings::default(),
        }
    }
}

/// `[server]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSettings {
    /// Address to listen on (`HOST:PORT`; port 0 picks a free one).
    pub listen: String,
    /// Largest request body accepted, in bytes (413 beyond).
    pub max_body_bytes: usize,
    /// On SIGTERM/SIGINT, how long in-flight requests may take to finish.
    pub shutdown_timeout_seconds: u64,
    /// Worker threads; 0 means one per CPU.
    pub workers: usize,
    /// Window of a gate call that gives neither `start`/`end` nor `window_minutes`.
    pub gate_window_minutes: u64,
    /// This service's URL as callers reach it, for links in callbacks; empty: `http://` and
    /// the listen address.
    pub public_url: String,
}

impl ServerSettings {
    /// The base of links to this service (callbacks, gate summaries): `public_url`, or
    /// `http://` and the listen address.
    pub fn public_base(&self) -> String {
        let configured = self.public_url.trim().trim_end_matches('/');
        if configured.is_empty() {
            format!("http://{}", self.listen)
        } else {
            configured.to_string()
        }
    }
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            listen: "127.0.0.1:8080".into(),
            max_body_bytes: 8 * 1024 * 1024,
            shutdown_timeout_seconds: 30,
            workers: 0,
            gate_window_minutes: 5,
            public_url: String::new(),
        }
    }
}

/// `[store]`. Its `Debug` hides the URL's password.
#[derive(Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreSettings {
    /// `sqlite://FILE` or `postgres://...`.
    pub url: String,
    /// Judgments older than this many days are deleted (checked at start and hourly); 0 keeps
    /// everything.
    pub retention_days: u64,
    /// When the judgments hold more than this many bytes (their points, reports, template
    /// texts and arguments as stored, not the database's own overhead), the oldest are deleted
    /// until they fit (checked at start and every minute); a judgment an open analysis still
    /// needs is kept. 0 sets no bound.
    pub retention_max_bytes: u64,
    /// SQLite: the service is not ready while the disk holding the database file has less
    /// free space than this (a small write still commits on a full disk; a judgment does not).
    pub min_free_bytes: u64,
}

impl std::fmt::Debug for StoreSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreSettings")
            .field("url", &crate::store::redact_url(&self.url))
            .field("retention_days", &self.retention_days)
            .field("retention_max_bytes", &self.retention_max_bytes)
            .field("min_free_bytes", &self.min_free_bytes)
            .finish()
    }
}

impl Default for StoreSettings {
    fn default() -> Self {
        StoreSettings {
            url: "sqlite://canaryd.db".into(),
            retention_days: 90,
            retention_max_bytes: 0,
            min_free_bytes: 16 << 20,
        }
    }
}

/// `[templates]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct TemplateSettings {
    /// Directory of templates loaded at start.
    pub dir: String,
}

impl Default for TemplateSettings {
    fn default() -> Self {
        TemplateSettings {
            dir: "analysis-templates".into(),
        }
    }
}

/// `[log]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSettings {
    /// `tracing` filter directive, e.g. `info` or `canaryd=debug`; `RUST_LOG` wins when set.
    pub level: String,
    /// `text` or `json`.
    pub format: String,
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings {
            level: "info".into(),
            format: "text".into(),
        }
    }
}

/// `[sources.NAME]`: one metric backend.
#[derive(Clone, Deserialize, Serialize, Default)]
#[serde(default)]
pub struct SourceSettings {
    /// `prometheus`, `influxdb`, `graphite`, `datadog`, `file`.
    pub kind: String,
    /// Base URL of the backend (or path, for `file`).
    pub url: String,
    /// Per-query timeout (default 10).
    pub timeout_seconds: Option<f64>,
    /// Bound on queries in flight to this source (default 20, Prometheus's own
    /// `--query.max-concurrency`).
    pub max_concurrent_queries: Option<usize>,
    /// Deadline of one live judgment's fetches from this source, retries and queued queries
    /// included (default 20, below the 30 s Flagger and Argo wait for a webhook).
    pub judgment_timeout_seconds: Option<f64>,
    /// Anything else the backend takes (credentials, headers, database...).
    #[serde(flatten)]
    pub options: BTreeMap<String, serde_json::Value>,
}

impl std::fmt::Debug for SourceSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Options may hold credentials: show their names only.
        f.debug_struct("SourceSettings")
            .field("kind", &self.kind)
            .field("url", &self.url)
            .field("timeout_seconds", &self.timeout_seconds)
            .field("max_concurrent_queries", &self.max_concurrent_queries)
            .field("judgment_timeout_seconds", &self.judgment_timeout_seconds)
            .field("options", &self.options.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Why settings could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Reading or merging the layers failed.
    #[error("configuration: {0}")]
    Load(#[from] config::ConfigError),
    /// `CANARYD__AUTH__TOKENS` is not a JSON list of tokens (the message never repeats it).
    #[error(
        "configuration: {TOKENS_ENV} must be a JSON list of {{\"name\", \"token_sha256\", \"role\"}}: {0}"
    )]
    TokensEnv(String),
}

/// The variable that sets `[auth] tokens` from the environment, as a JSON list:
/// `[{"name": "ci", "token_sha256": "...", "role": "judge"}]`. It replaces the file's tokens.
pub const TOKENS_ENV: &str = "CANARYD__AUTH__TOKENS";

impl Settings {
    /// Loads defaults, then `file` (when given), then `CANARYD__SECTION__KEY` variables.
    pub fn load(file: Option<&Path>) -> Result<Settings, ConfigError> {
        Self::load_with_env(file, std::env::vars())
    }

    /// As [`Settings::load`], with the environment given explicitly (for tests).
    pub fn load_with_env(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Settings, ConfigError> {
        let defaults = config::Config::try_from(&Settings::default())?;
        let mut builder = config::Config::builder().add_source(defaults);
        if let Some(path) = file {
            builder = builder.add_source(config::File::from(path).required(true));
        }
        let mut env: std::collections::HashMap<String, String> = env
            .into_iter()
            .filter(|(k, _)| k.starts_with("CANARYD__"))
            .collect();
        // A list of tables cannot be spelt as CANARYD__ variables, so the tokens take JSON
        // (in Kubernetes, from a Secret: see deploy/kubernetes).
        let tokens = match env.remove(TOKENS_ENV) {
            Some(json) if !json.trim().is_empty() => Some(
                serde_json::from_str::<Vec<TokenSettings>>(&json)
                    .map_err(|e| ConfigError::TokensEnv(e.to_string()))?,
            ),
            _ => None,
        };
        builder = builder.add_source(
            config::Environment::with_prefix("CANARYD")
                .prefix_separator("__")
                .separator("__")
                .try_parsing(true)
                .source(Some(env)),
        );
        let mut settings: Settings = builder.build()?.try_deserialize()?;
        if let Some(tokens) = tokens {
            settings.auth.tokens = tokens;
        }
        Ok(settings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_file_env_layering() {
        let dir = std::env::temp_dir().join(format!("canaryd-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("c.toml");
        std::fs::write(
            &file,
            "[server]\nlisten = \"127.0.0.1:9999\"\n[store]\nurl = \"sqlite://x.db\"\n",
        )
        .unwrap();
        let s = Settings::load_with_env(Some(&file), vec![]).unwrap();
        assert_eq!(s.server.listen, "127.0.0.1:9999");
        assert_eq!(s.log.level, "info");
        let env = vec![(
            "CANARYD__SERVER__LISTEN".to_string(),
            "0.0.0.0:1".to_string(),
        )];
        let s = Settings::load_with_env(Some(&file), env).unwrap();
        assert_eq!(s.server.listen, "0.0.0.0:1");
        assert_eq!(s.store.url, "sqlite://x.db");
        let d = Settings::load_with_env(None, vec![]).unwrap();
        assert_eq!(d.server.listen, "127.0.0.1:8080");
        assert_eq!(d.store.url, "sqlite://canaryd.db");
        assert_eq!(d.sources["prometheus"].url, "http://127.0.0.1:9090");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn sources_from_file_and_env() {
        let dir = std::env::temp_dir().join(format!("canaryd-config-src-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("c.toml");
        std::fs::write(
            &file,
            "[sources.prometheus]\nurl = \"http://prom:9090\"\nbearer_token = \"s3cret\"\n\
             [sources.influx]\nkind = \"influxdb\"\nurl = \"http://influx:8086\"\ndatabase = \"k8s\"\n",
        )
        .unwrap();
        let env = vec![(
            "CANARYD__SOURCES__PROMETHEUS__TIMEOUT_SECONDS".to_string(),
            "3".to_string(),
        )];
        let s = Settings::load_with_env(Some(&file), env).unwrap();
        let p = &s.sources["prometheus"];
        assert_eq!(
            (p.kind.as_str(), p.url.as_str()),
            ("prometheus", "http://prom:9090")
        );
        assert_eq!(p.timeout_seconds, Some(3.0));
        assert_eq!(p.options["bearer_token"], "s3cret");
        assert_eq!(s.sources["influx"].options["database"], "k8s");
        let _ = std::fs::remove_dir_all(&dir);
        let shown = format!("{s:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
    }

    #[test]
    fn the_contract_example_loads() {
        let dir =
            std::env::temp_dir().join(format!("canaryd-config-contract-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("c.toml");
        std::fs::write(
            &file,
            "[server]\nlisten = \"127.0.0.1:8080\"\n[store]\nurl = \"sqlite://canaryd.db\"\n\
             [sources.prometheus]\nkind = \"prometheus\"\nurl = \"http://127.0.0.1:9090\"\ntimeout_seconds = 10\n\
             [auth]\ntokens = [{ name = \"ci\", token_sha256 = \"ab12\", role = \"judge\" }]\n",
        )
        .unwrap();
        let s = Settings::load_with_env(Some(&file), vec![]);
        let _ = std::fs::remove_dir_all(&dir);
        let s = s.unwrap();
        assert_eq!(s.auth.tokens[0].role, Role::Judge);
        assert_eq!(s.sources["prometheus"].timeout_seconds, Some(10.0));
    }

    #[test]
    fn tokens_from_env_as_json() {
        let digest = "ab".repeat(32);
        let env = vec![(
            TOKENS_ENV.to_string(),
            format!(r#"[{{"name": "flagger", "token_sha256": "{digest}", "role": "judge"}}]"#),
        )];
        let s = Settings::load_with_env(None, env).unwrap();
        assert_eq!(s.auth.tokens.len(), 1);
        assert_eq!(s.auth.tokens[0].name, "flagger");
        assert_eq!(s.auth.tokens[0].role, Role::Judge);
        // Empty (an optional Secret key left out) means none.
        let s = Settings::load_with_env(None, vec![(TOKENS_ENV.into(), " ".into())]).unwrap();
        assert!(s.auth.tokens.is_empty());
        let err = Settings::load_with_env(
            None,
            vec![(
                TOKENS_ENV.into(),
                r#"[{"name": "x", "role": "boss"}]"#.into(),
            )],
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains(TOKENS_ENV), "{err}");
    }

    #[test]
    fn unknown_key_is_an_error() {
        let dir = std::env::temp_dir().join(format!("canaryd-config-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("c.toml");
        std::fs::write(&file, "[server]\nlisten_addr = \"x\"\n").unwrap();
        let err = Settings::load_with_env(Some(&file), vec![])
            .unwrap_err()
            .to_string();
        let _ = std::fs::remove_dir_all(&dir);
        assert!(err.contains("listen_addr"), "{err}");
    }
}
