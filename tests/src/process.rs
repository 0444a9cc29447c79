//! The real `secret-server` binary as a process: started in dev mode on port 0 (SQLite, or
//! PostgreSQL when `DATABASE_URL` points at a server) with its log output captured, SQL run
//! directly on its database, and HTTP calls to it. The binary's path comes from the test
//! (`env!("CARGO_BIN_EXE_secret-server")` in the server's own tests).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A running server with its captured log output.
pub struct ServerProcess {
    /// The binary it runs (for its subcommands too).
    pub bin: String,
    pub child: Child,
    pub base: String,
    pub data_dir: PathBuf,
    pub logs: Arc<Mutex<String>>,
    _dir: tempfile::TempDir,
    pub pg: Option<(String, String)>,
    /// The database the server uses.
    pub db_url: String,
    /// The settings it was started with, for a restart.
    extra_env: Vec<(String, String)>,
}

/// Starts `bin` in dev mode on port 0 over `data_dir` (and the PostgreSQL database
/// `pg_url`, else SQLite in the data directory); returns the child, its base URL and its
/// captured log.
fn launch(
    bin: &str,
    data_dir: &std::path::Path,
    pg_url: Option<&str>,
    extra_env: &[(&str, &str)],
) -> (Child, String, Arc<Mutex<String>>) {
    let mut cmd = Command::new(bin);
    cmd.arg("--dev")
        .arg("--bind")
        .arg("127.0.0.1:0")
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("SECRETS_MASTER_KEY")
        .env_remove("SECRETS_JWT_SECRET")
        .env_remove("SECRETS_DATABASE_URL")
        .env(
            "RUST_LOG",
            "debug,sqlx=warn,sea_orm=warn,hyper=info,h2=info",
        )
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(url) = pg_url {
        cmd.env("SECRETS_DATABASE_URL", url);
    }
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let logs = Arc::new(Mutex::new(String::new()));
    let (tx, rx) = std::sync::mpsc::channel();
    let sink = logs.clone();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stderr);
        let mut line = String::new();
        let mut sent = false;
        while reader.read_line(&mut line).unwrap_or(0) > 0 {
            if !sent && let Some(addr) = line.split("addr=").nth(1) {
                let addr: String = addr.chars().take_while(|c| !c.is_whitespace()).collect();
                let _ = tx.send(addr);
                sent = true;
            }
            sink.lock().unwrap().push_str(&line);
            line.clear();
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(60))
        .unwrap_or_else(|_| panic!("server did not start; logs:\n{}", logs.lock().unwrap()));
    (child, format!("http://{addr}"), logs)
}

pub fn pg_database() -> Option<(String, String, String)> {
    let admin = std::env::var("DATABASE_URL")
        .ok()
        .filter(|u| u.starts_with("postgres"))?;
    let name = format!("sm_e2e_{}", uuid::Uuid::new_v4().simple());
    let base = admin
        .rsplit_once('/')
        .map(|(b, _)| b.to_string())
        .unwrap_or(admin.clone());
    Some((admin, name.clone(), format!("{base}/{name}")))
}

/// Runs one statement on a database (PostgreSQL or SQLite, by URL), on a thread of its own
/// (callers may be inside a runtime already).
pub fn exec_sql(url: &str, sql: &str) {
    let (url, sql) = (url.to_string(), sql.to_string());
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            use sqlx::Connection;
            let sql = sqlx::AssertSqlSafe(sql);
            if url.starts_with("postgres") {
                let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
                sqlx::query(sql).execute(&mut conn).await.unwrap();
            } else {
                let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
                sqlx::query(sql).execute(&mut conn).await.unwrap();
            }
        });
    })
    .join()
    .unwrap();
}

impl ServerProcess {
    pub fn start(bin: &str, extra_env: &[(&str, &str)]) -> ServerProcess {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = dir.path().join("data");
        let mut pg = None;
        let mut db_url = format!("sqlite://{}", data_dir.join("secrets.db").display());
        let mut pg_url = None;
        if let Some((admin, name, url)) = pg_database() {
            exec_sql(&admin, &format!("CREATE DATABASE \"{name}\""));
            pg = Some((admin, name));
            pg_url = Some(url.clone());
            db_url = url;
        }
        let (child, base, logs) = launch(bin, &data_dir, pg_url.as_deref(), extra_env);
        ServerProcess {
            bin: bin.to_string(),
            child,
            base,
            data_dir,
            logs,
            _dir: dir,
            pg,
            db_url,
            extra_env: extra_env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    /// Kills the server with SIGKILL (nothing is flushed, nothing shut down) and starts it
    /// again on the same data directory and database, with the same settings; it listens
    /// on a new port (`base` follows).
    pub fn kill_and_restart(&mut self) {
        self.kill();
        self.restart();
    }

    /// Kills the server with SIGKILL and waits for it to be gone.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        self.child.wait().unwrap();
    }

    /// Starts the (killed) server again on the same data directory and database, with the
    /// same settings, on a new port (`base` follows).
    pub fn restart(&mut self) {
        let pg_url = self
            .db_url
            .starts_with("postgres")
            .then(|| self.db_url.clone());
        let env: Vec<(&str, &str)> = self
            .extra_env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let (child, base, logs) = launch(&self.bin, &self.data_dir, pg_url.as_deref(), &env);
        self.child = child;
        self.base = base;
        self.logs = logs;
    }

    /// Another server on this one's store: its data directory (so its master and token
    /// keys) and its database, with `extra_env`. Dropping the database stays with this one.
    pub fn replica(&self, extra_env: &[(&str, &str)]) -> ServerProcess {
        let pg_url = self
            .db_url
            .starts_with("postgres")
            .then(|| self.db_url.clone());
        let (child, base, logs) = launch(&self.bin, &self.data_dir, pg_url.as_deref(), extra_env);
        ServerProcess {
            bin: self.bin.clone(),
            child,
            base,
            data_dir: self.data_dir.clone(),
            logs,
            _dir: tempfile::tempdir().unwrap(),
            pg: None,
            db_url: self.db_url.clone(),
            extra_env: extra_env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    /// Starts `bin ARGS` (e.g. the scheduler, running until killed) on this server's store
    /// as [`ServerProcess::run_on_store`] would run it, with its standard error captured.
    /// The process is killed when the returned handle is dropped.
    pub fn spawn_on_store(&self, bin: &str, args: &[&str], env: &[(&str, &str)]) -> Background {
        let mut cmd = Command::new(bin);
        cmd.arg("--dev")
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args(["--database-url", &self.db_url])
            .args(args)
            .env_remove("SECRETS_MASTER_KEY")
            .env_remove("SECRETS_MASTER_KEY_FILE")
            .env_remove("SECRETS_DATABASE_URL")
            .env("RUST_LOG", "info,sqlx=warn,sea_orm=warn")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let logs = Arc::new(Mutex::new(String::new()));
        let sink = logs.clone();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stderr);
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap_or(0) > 0 {
                sink.lock().unwrap().push_str(&line);
                line.clear();
            }
        });
        Background { child, logs }
    }

    pub fn token(&self, args: &[&str]) -> String {
        let out = Command::new(&self.bin)
            .args(["--dev", "--data-dir"])
            .arg(&self.data_dir)
            .args(["token", "issue"])
            .args(args)
            .env_remove("SECRETS_JWT_SECRET")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "token issue failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    /// Runs `bin ARGS` (this server's binary for its subcommands, or another binary of the
    /// secret manager such as the scheduler) on this server's data directory and database:
    /// in dev mode, with the data directory's generated master key, unless `env` sets
    /// `SECRETS_MASTER_KEY`. Waits for it to exit.
    pub fn run_on_store(&self, bin: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = Command::new(bin);
        cmd.arg("--data-dir")
            .arg(&self.data_dir)
            .args(["--database-url", &self.db_url])
            .args(args)
            .env_remove("SECRETS_MASTER_KEY")
            .env_remove("SECRETS_MASTER_KEY_FILE")
            .env_remove("SECRETS_NEW_MASTER_KEY")
            .env_remove("SECRETS_DEV")
            .env_remove("SECRETS_DATABASE_URL");
        if !env.iter().any(|(k, _)| *k == "SECRETS_MASTER_KEY") {
            cmd.arg("--dev");
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    }

    /// Stops the server with SIGTERM and returns everything it logged.
    pub fn stop(mut self) -> String {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                assert!(status.success(), "server exited with {status}");
                break;
            }
            assert!(Instant::now() < deadline, "server did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(Duration::from_millis(100));
        if let Some((admin, name)) = self.pg.take() {
            exec_sql(
                &admin,
                &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
            );
        }
        self.logs.lock().unwrap().clone()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        // A test that failed half-way leaves no server behind.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A long-running process started by [`ServerProcess::spawn_on_store`]; killed on drop.
pub struct Background {
    pub child: Child,
    pub logs: Arc<Mutex<String>>,
}

impl Background {
    /// Kills it with SIGKILL.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The standard output of a command that must have succeeded (else its exit code and
/// standard error are the panic message).
pub fn succeeded(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

pub fn client() -> reqwest::Client {
    reqwest::Client::new()
}

pub async fn call(
    method: reqwest::Method,
    url: String,
    token: &str,
    body: Option<Value>,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut req = client().request(method, url).bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let text = res.text().await.unwrap();
    let json = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, headers, json)
}
