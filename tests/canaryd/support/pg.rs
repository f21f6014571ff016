//! A PostgreSQL cluster of one test's own, which the test may stop and start again (the fault
//! matrix: the store going away under a running canaryd). The shared cluster of
//! [`super::app::postgres`] is never stopped: other tests use it.

use std::path::PathBuf;
use std::process::Command;

use super::app::{is_root, pg_bin};
use super::{free_port, temp_dir};

/// The cluster; dropped, it is stopped and its directory removed.
pub struct PgCluster {
    /// Its port.
    pub port: u16,
    dir: PathBuf,
}

fn run(program: &std::path::Path, args: &[String]) -> std::process::Output {
    let mut cmd = if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    };
    cmd.args(args).output().expect("run a PostgreSQL program")
}

impl PgCluster {
    /// `initdb`, then started with `pg_ctl start -w`.
    pub fn start() -> PgCluster {
        let dir = temp_dir("pg-own");
        if is_root() {
            let ok = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&dir)
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "chown of the PostgreSQL directory failed");
        }
        let data = dir.join("data").display().to_string();
        let out = run(
            &pg_bin("initdb"),
            &[
                "-D".into(),
                data,
                "-A".into(),
                "trust".into(),
                "-U".into(),
                "postgres".into(),
                "--no-sync".into(),
            ],
        );
        assert!(out.status.success(), "initdb: {out:?}");
        let cluster = PgCluster {
            port: free_port(),
            dir,
        };
        cluster.resume();
        cluster
    }

    fn ctl(&self, args: &[&str]) -> std::process::Output {
        let mut all = vec![
            "-D".to_string(),
            self.dir.join("data").display().to_string(),
            "-w".into(),
            "-l".into(),
            self.dir.join("server.log").display().to_string(),
        ];
        all.extend(args.iter().map(|a| a.to_string()));
        run(&pg_bin("pg_ctl"), &all)
    }

    /// Starts it (again), on the same port and data.
    pub fn resume(&self) {
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {} -k {} -c fsync=off",
            self.port,
            self.dir.display()
        );
        let out = self.ctl(&["-o", &options, "start"]);
        assert!(out.status.success(), "pg_ctl start: {out:?}");
    }

    /// Stops it (`fast`: open connections are cut, as when a database fails over).
    pub fn stop(&self) {
        let out = self.ctl(&["-m", "fast", "stop"]);
        assert!(out.status.success(), "pg_ctl stop: {out:?}");
    }

    /// The URL of database `postgres`.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let _ = self.ctl(&["-m", "immediate", "stop"]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
