//! End-to-end: the real `secret-server` binary, started in dev mode on port 0 (SQLite, or
//! PostgreSQL when `DATABASE_URL` points at a server), driven over HTTP, stopped with
//! SIGTERM; its whole log output is then searched for the secret values used.

// Tests and their helpers fail loudly by design.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_secret-server");

/// A running server with its captured log output.
struct Server {
    child: Child,
    base: String,
    data_dir: PathBuf,
    logs: Arc<Mutex<String>>,
    _dir: tempfile::TempDir,
    pg: Option<(String, String)>,
    /// The database the server uses.
    db_url: String,
}

fn pg_database() -> Option<(String, String, String)> {
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
fn exec_sql(url: &str, sql: &str) {
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

impl Server {
    fn start(extra_env: &[(&str, &str)]) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = dir.path().join("data");
        let mut cmd = Command::new(BIN);
        cmd.arg("--dev")
            .arg("--bind")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(&data_dir)
            .env_remove("SECRETS_MASTER_KEY")
            .env_remove("SECRETS_JWT_SECRET")
            .env_remove("SECRETS_DATABASE_URL")
            .env(
                "RUST_LOG",
                "debug,sqlx=warn,sea_orm=warn,hyper=info,h2=info",
            )
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut pg = None;
        let mut db_url = format!("sqlite://{}", data_dir.join("secrets.db").display());
        if let Some((admin, name, url)) = pg_database() {
            exec_sql(&admin, &format!("CREATE DATABASE \"{name}\""));
            cmd.env("SECRETS_DATABASE_URL", &url);
            pg = Some((admin, name));
            db_url = url;
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
        Server {
            child,
            base: format!("http://{addr}"),
            data_dir,
            logs,
            _dir: dir,
            pg,
            db_url,
        }
    }

    fn token(&self, args: &[&str]) -> String {
        let out = Command::new(BIN)
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

    /// Stops the server with SIGTERM and returns everything it logged.
    fn stop(mut self) -> String {
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

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

async fn call(
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_life_of_a_secret_over_http_leaves_no_value_in_the_logs() {
    let server = Server::start(&[]);
    let admin = server.token(&["--sub", "alice", "--org", "org-1=ADMIN"]);
    let reader = server.token(&["--sub", "bob", "--org", "org-1=MEMBER"]);
    let base = server.base.clone();
    let v1 = format!("sk-e2e-first-{}", uuid::Uuid::new_v4().simple());
    let v2 = format!("sk-e2e-second-{}", uuid::Uuid::new_v4().simple());
    let pw = format!("pw-{}", uuid::Uuid::new_v4().simple());

    let (status, _, health) = call(reqwest::Method::GET, format!("{base}/healthz"), "", None).await;
    assert_eq!(status, 200, "{health}");

    let (status, headers, created) = call(
        reqwest::Method::POST,
        format!("{base}/api/secrets"),
        &admin,
        Some(json!({
            "name": "OPENAI_API_KEY",
            "type": "API_KEY",
            "value": {"type": "API_KEY", "key": v1},
            "scope": "ORGANIZATION",
            "organizationId": "org-1",
            "tags": ["llm"]
        })),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert!(headers.get("x-request-id").is_some());
    let id = created["id"].as_str().unwrap().to_string();
    assert!(!created.to_string().contains(&v1));

    let (status, headers, value) = call(
        reqwest::Method::GET,
        format!("{base}/api/secrets/{id}/value"),
        &admin,
        None,
    )
    .await;
    assert_eq!(status, 200, "{value}");
    assert_eq!(value["value"]["key"], v1.as_str());
    assert_eq!(headers.get("etag").unwrap(), "\"1\"");

    let (status, _, body) = call(
        reqwest::Method::GET,
        format!("{base}/api/secrets/{id}/value"),
        &reader,
        None,
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "ACCESS_DENIED");

    let (status, _, rotated) = call(
        reqwest::Method::POST,
        format!("{base}/api/secrets/{id}/rotate"),
        &admin,
        Some(json!({"newValue": {"type": "API_KEY", "key": v2}})),
    )
    .await;
    assert_eq!(status, 200, "{rotated}");
    assert_eq!(rotated["currentVersion"], 2);

    let (status, _, versions) = call(
        reqwest::Method::GET,
        format!("{base}/api/secrets/{id}/versions"),
        &admin,
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        versions
            .as_array()
            .map(Vec::len)
            .or(versions["items"].as_array().map(Vec::len)),
        Some(2)
    );

    let (status, _, old) = call(
        reqwest::Method::GET,
        format!("{base}/api/secrets/{id}/versions/1"),
        &admin,
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(old["value"]["key"], v1.as_str());

    let (status, _, up) = call(
        reqwest::Method::POST,
        format!("{base}/api/secrets"),
        &admin,
        Some(json!({
            "name": "DB_LOGIN",
            "type": "USERNAME_PASSWORD",
            "value": {"type": "USERNAME_PASSWORD", "username": "app", "password": pw},
            "scope": "ORGANIZATION",
            "organizationId": "org-1"
        })),
    )
    .await;
    assert_eq!(status, 201, "{up}");

    // A bad request that carries a value must not echo it either.
    let (status, _, bad) = call(
        reqwest::Method::POST,
        format!("{base}/api/secrets"),
        &admin,
        Some(json!({"name": "1bad", "type": "API_KEY", "value": {"type": "API_KEY", "key": v1}, "scope": "ORGANIZATION"})),
    )
    .await;
    assert_eq!(status, 400);
    assert!(!bad.to_string().contains(&v1));

    let (status, _, _) = call(
        reqwest::Method::DELETE,
        format!("{base}/api/secrets/{id}"),
        &admin,
        None,
    )
    .await;
    assert!(
        status == 200 || status == 204,
        "soft delete answered {status}"
    );
    let (status, _, gone) = call(
        reqwest::Method::GET,
        format!("{base}/api/secrets/{id}/value"),
        &admin,
        None,
    )
    .await;
    assert_eq!(status, 404, "{gone}");

    let logs = server.stop();
    assert!(logs.contains("secret-server listening"));
    for secret in [&v1, &v2, &pw] {
        assert!(
            !logs.contains(secret.as_str()),
            "a secret value appeared in the server's logs"
        );
    }
}

#[test]
fn without_dev_mode_or_keys_the_server_refuses_to_start_and_names_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["--bind", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env_remove("SECRETS_MASTER_KEY")
        .env_remove("SECRETS_MASTER_KEY_FILE")
        .env_remove("SECRETS_JWT_SECRET")
        .env_remove("SECRETS_DEV")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("SECRETS_MASTER_KEY"), "{err}");
}

#[test]
fn dev_mode_keys_are_private_and_reused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let issue = |data: &Path| {
        Command::new(BIN)
            .args(["--dev", "--data-dir"])
            .arg(data)
            .args(["token", "issue", "--sub", "u1", "--ttl-seconds", "60"])
            .env_remove("SECRETS_JWT_SECRET")
            .output()
            .unwrap()
    };
    let first = issue(&data);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let key = data.join("jwt.secret");
    let meta = std::fs::metadata(&key).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    }
    let mut before = String::new();
    std::fs::File::open(&key)
        .unwrap()
        .read_to_string(&mut before)
        .unwrap();
    assert!(issue(&data).status.success());
    let after = std::fs::read_to_string(&key).unwrap();
    assert_eq!(before, after, "the dev key is reused");
    let token = String::from_utf8(first.stdout).unwrap();
    assert_eq!(
        token.trim().split('.').count(),
        3,
        "only the token is printed"
    );
}

#[test]
fn migrate_runs_and_exits() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["--data-dir"])
        .arg(dir.path())
        .arg("migrate")
        .env_remove("SECRETS_DATABASE_URL")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.path().join("secrets.db").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_verify_passes_then_names_the_record_edited_in_sql() {
    let server = Server::start(&[]);
    let admin = server.token(&["--sub", "alice", "--org", "org-1=ADMIN"]);
    let base = server.base.clone();
    let (status, _, created) = call(
        reqwest::Method::POST,
        format!("{base}/api/secrets"),
        &admin,
        Some(json!({"name": "K", "type": "API_KEY", "value": {"type": "API_KEY", "key": "sk-verify-0123456789"},
            "scope": "ORGANIZATION", "organizationId": "org-1"})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap();
    for _ in 0..2 {
        let (status, _, _) = call(
            reqwest::Method::GET,
            format!("{base}/api/secrets/{id}/value"),
            &admin,
            None,
        )
        .await;
        assert_eq!(status, 200);
    }
    let verify = || {
        Command::new(BIN)
            .args(["--data-dir"])
            .arg(&server.data_dir)
            .args(["--database-url", &server.db_url, "audit", "verify"])
            .output()
            .unwrap()
    };
    let out = verify();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "audit chain intact: 3 records checked"
    );

    // An intruder edits a record directly in SQL.
    exec_sql(
        &server.db_url,
        "UPDATE secret_audit_logs SET actor_id = 'mallory' WHERE seq = 2",
    );
    let out = verify();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("audit record 2 (id ") && stderr.contains("was changed or inserted"),
        "{stderr}"
    );
    server.stop();
}
