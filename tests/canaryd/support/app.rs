//! The service under test, in this process (STYLE habit 1: bind port 0, expose the port), on
//! its own SQLite file or its own database of a real, throwaway PostgreSQL cluster.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use canaryd::config::Settings;
use canaryd::startup::Application;
use serde_json::Value;

use super::{free_port, repo_root, require_binary, temp_dir, Process, Scratch};

/// Runs each named async scenario `fn NAME(db: Db)` twice, as `NAME::sqlite` and
/// `NAME::postgres`, each on a fresh database.
#[macro_export]
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::support::app::Db::Sqlite).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name($crate::support::app::Db::Postgres).await
                }
            }
        )*
    };
}

/// Which store a test app uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    /// A SQLite file in the test's scratch directory.
    Sqlite,
    /// A fresh database on the shared PostgreSQL cluster.
    Postgres,
}

/// A running canaryd.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The store URL (to start another instance on the same data).
    pub db_url: String,
    /// The settings it runs with.
    pub settings: Settings,
    /// A client.
    pub client: reqwest::Client,
    handle: actix_web::dev::ServerHandle,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    /// Scratch directory (the SQLite file lives here).
    pub scratch: std::sync::Arc<Scratch>,
}

/// Settings for a test app on `db_url`: port 0, the shipped templates, one worker.
pub fn test_settings(db_url: &str) -> Settings {
    let mut s = Settings::default();
    s.server.listen = "127.0.0.1:0".into();
    s.server.workers = 1;
    s.server.shutdown_timeout_seconds = 5;
    s.store.url = db_url.to_string();
    s.templates.dir = repo_root().join("analysis-templates").display().to_string();
    s.callbacks.allow_loopback = true; // the hook receivers listen on 127.0.0.1
    s
}

/// A fresh store URL of kind `db` (and the scratch directory that holds a SQLite file).
pub async fn fresh_db(db: Db) -> (String, std::sync::Arc<Scratch>) {
    let scratch = std::sync::Arc::new(Scratch::new("app"));
    let url = match db {
        Db::Sqlite => format!("sqlite://{}", scratch.path.join("canaryd.db").display()),
        Db::Postgres => postgres().new_database().await,
    };
    (url, scratch)
}

/// Starts canaryd on a fresh store, with `tweak` applied to its settings.
pub async fn spawn_app(db: Db, tweak: impl FnOnce(&mut Settings)) -> TestApp {
    let (db_url, scratch) = fresh_db(db).await;
    let mut settings = test_settings(&db_url);
    tweak(&mut settings);
    spawn_with(settings, scratch).await
}

/// Starts canaryd with exactly `settings`.
pub async fn spawn_with(settings: Settings, scratch: std::sync::Arc<Scratch>) -> TestApp {
    let app = Application::build(settings.clone())
        .await
        .expect("canaryd starts");
    let url = format!("http://127.0.0.1:{}", app.port());
    let handle = app.handle();
    let task = tokio::spawn(app.run_until_stopped());
    TestApp {
        url,
        db_url: settings.store.url.clone(),
        settings,
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("client"),
        handle,
        task,
        scratch,
    }
}

impl TestApp {
    /// `url` + `path`.
    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// POSTs JSON; returns (status, body as JSON or `Value::String` of the text).
    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let r = self
            .client
            .post(self.at(path))
            .json(body)
            .send()
            .await
            .expect("request");
        read(r).await
    }

    /// GETs; returns (status, body).
    pub async fn get(&self, path: &str) -> (u16, Value) {
        let r = self
            .client
            .get(self.at(path))
            .send()
            .await
            .expect("request");
        read(r).await
    }

    /// Stores `support::fixture_template(name)` as a new template.
    pub async fn put_fixture_template(&self, name: &str) {
        let r = self
            .client
            .put(self.at(&format!("/api/v1/templates/{name}")))
            .header("content-type", "application/json")
            .body(super::fixture_template(name).to_string())
            .send()
            .await
            .expect("request");
        assert_eq!(r.status().as_u16(), 201, "template {name} stored");
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(self) -> std::sync::Arc<Scratch> {
        self.handle.stop(true).await;
        let _ = self.task.await;
        self.scratch
    }
}

/// Status and body of a response; a body that is not JSON comes back as a string.
pub async fn read(r: reqwest::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    let text = r.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, body)
}

/// A throwaway PostgreSQL cluster (Debian `postgresql`), shared by the tests of the process;
/// each test gets its own database.
pub struct Postgres {
    /// Its port.
    pub port: u16,
    _process: Process,
}

pub(crate) fn pg_bin(name: &str) -> std::path::PathBuf {
    let base = std::path::Path::new("/usr/lib/postgresql");
    let mut versions: Vec<_> = std::fs::read_dir(base)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    versions.sort();
    match versions.last() {
        Some(v) if v.join("bin").join(name).is_file() => v.join("bin").join(name),
        _ => require_binary(name),
    }
}

pub(crate) fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// The shared cluster, started on first use: `initdb` (as user `postgres` when running as
/// root, which initdb refuses), then `postgres` in the foreground under the watchdog.
pub fn postgres() -> &'static Postgres {
    static PG: OnceLock<Postgres> = OnceLock::new();
    PG.get_or_init(|| {
        let initdb = pg_bin("initdb");
        let server = pg_bin("postgres");
        let dir = temp_dir("postgres");
        let data = dir.join("data");
        let root = is_root();
        let as_postgres = |program: &std::path::Path, args: &[String]| -> Vec<String> {
            let mut v = Vec::new();
            if root {
                v.extend(["-u".to_string(), "postgres".into(), "--".into()]);
            }
            v.push(program.display().to_string());
            v.extend(args.iter().cloned());
            v
        };
        if root {
            let ok = std::process::Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&dir)
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "chown of the PostgreSQL directory failed");
        }
        let init_args = [
            "-D".to_string(),
            data.display().to_string(),
            "-A".into(),
            "trust".into(),
            "-U".into(),
            "postgres".into(),
            "--no-sync".into(),
        ];
        let (program, args) = if root {
            ("runuser".to_string(), as_postgres(&initdb, &init_args))
        } else {
            (initdb.display().to_string(), init_args.to_vec())
        };
        let out = std::process::Command::new(&program)
            .args(&args)
            .output()
            .expect("run initdb");
        assert!(
            out.status.success(),
            "initdb failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let port = free_port();
        let server_args = [
            "-D".to_string(),
            data.display().to_string(),
            "-c".into(),
            "listen_addresses=127.0.0.1".into(),
            "-p".into(),
            port.to_string(),
            "-k".into(),
            dir.display().to_string(),
            "-c".into(),
            "fsync=off".into(),
            "-c".into(),
            "synchronous_commit=off".into(),
            "-c".into(),
            "full_page_writes=off".into(),
            "-c".into(),
            "max_connections=400".into(),
        ];
        let process = if root {
            Process::spawn(
                "postgres",
                &dir,
                std::path::Path::new("/usr/sbin/runuser"),
                &as_postgres(&server, &server_args),
                &[],
            )
        } else {
            Process::spawn("postgres", &dir, &server, &server_args, &[])
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                let ready = std::process::Command::new("psql")
                    .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-U", "postgres"])
                    .args(["-c", "SELECT 1", "-q", "-t"])
                    .output()
                    .is_ok_and(|o| o.status.success());
                if ready {
                    break;
                }
            }
            assert!(
                std::time::Instant::now() < deadline,
                "PostgreSQL did not start on port {port}; its log:\n{}",
                process.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Postgres {
            port,
            _process: process,
        }
    })
}

impl Postgres {
    /// URL of database `name`.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// Creates a fresh database and returns its URL.
    pub async fn new_database(&self) -> String {
        static N: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "t_{}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        );
        let status = tokio::process::Command::new("psql")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
            ])
            .args(["-q", "-c", &format!("CREATE DATABASE {name}")])
            .status()
            .await
            .expect("psql");
        assert!(status.success(), "CREATE DATABASE {name} failed");
        self.url(&name)
    }
}
