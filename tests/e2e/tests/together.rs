//! The binaries together on one database (SQLite in the server's data directory, or
//! PostgreSQL when `DATABASE_URL` points at a server): the server takes writes over HTTP, an
//! operator rotates the data key with `secret-server keys`, and one `secret-scheduler
//! --once` run expires the secret, finishes the re-encryption and retires the old key;
//! the server then answers with the scheduler's changes, and the audit chain, written by
//! three processes, verifies.

// Tests fail loudly by design.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use secret_testkit::process::{ServerProcess as Server, call, succeeded as ok};
use serde_json::{Value, json};

const SERVER: &str = env!("CARGO_BIN_EXE_e2e-secret-server");
const SCHEDULER: &str = env!("CARGO_BIN_EXE_e2e-secret-scheduler");

fn key_status(server: &Server) -> Value {
    serde_json::from_str(&ok(&server.run_on_store(
        SERVER,
        &["keys", "status", "--json"],
        &[],
    )))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scheduler_acts_on_what_the_server_wrote_and_the_server_sees_it() {
    let server = Server::start(SERVER, &[]);
    let admin = server.token(&["--sub", "alice", "--org", "org-1=ADMIN"]);
    let root = server.token(&["--sub", "root", "--super-admin"]);
    let base = server.base.clone();
    let expires_at = chrono::Utc::now() + chrono::Duration::seconds(2);
    let (code, _, created) = call(
        reqwest::Method::POST,
        format!("{base}/api/secrets"),
        &admin,
        Some(json!({"name": "SHORT_LIVED", "type": "API_KEY",
            "value": {"type": "API_KEY", "key": "sk-together-0123456789"},
            "scope": "ORGANIZATION", "organizationId": "org-1",
            "expiresAt": expires_at.to_rfc3339()})),
    )
    .await;
    assert_eq!(code, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_string();

    let old_key = key_status(&server)["activeKeyId"]
        .as_str()
        .unwrap()
        .to_string();
    ok(&server.run_on_store(
        SERVER,
        &["keys", "rotate-data-key", "--operator", "ops"],
        &[],
    ));
    assert_eq!(key_status(&server)["reencryptionRemaining"], 2);
    tokio::time::sleep(Duration::from_millis(2500)).await;

    let run = server.run_on_store(SCHEDULER, &["--once"], &[]);
    ok(&run);
    let scheduler_log = String::from_utf8_lossy(&run.stderr).into_owned();

    // The server answers with what the scheduler did.
    let (code, _, meta) = call(
        reqwest::Method::GET,
        format!("{base}/api/secrets/{id}"),
        &admin,
        None,
    )
    .await;
    assert_eq!(code, 200, "{meta}");
    assert_eq!(meta["status"], "EXPIRED");
    assert!(meta["expiredAt"].is_string(), "{meta}");
    let status = key_status(&server);
    assert_eq!(status["reencryptionRemaining"], 0);
    let old = status["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["keyId"] == old_key.as_str())
        .unwrap()
        .clone();
    assert_eq!(old["status"], "RETIRED");

    let (code, _, page) = call(
        reqwest::Method::GET,
        format!("{base}/api/secrets/audit?actorId=secret-scheduler&limit=50"),
        &root,
        None,
    )
    .await;
    assert_eq!(code, 200, "{page}");
    let mut by_scheduler: Vec<String> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert_eq!(r["actorType"], "SCHEDULER");
            format!(
                "{}/{}",
                r["eventType"].as_str().unwrap(),
                r["action"].as_str().unwrap()
            )
        })
        .collect();
    by_scheduler.sort();
    assert_eq!(
        by_scheduler,
        vec![
            "KEY_RETIRED/RETIRED",
            "KEY_ROTATED/REENCRYPT",
            "SECRET_EXPIRED/SECRET_EXPIRED"
        ]
    );

    // Three processes wrote the chain; it verifies.
    let out = server.run_on_store(SERVER, &["audit", "verify"], &[]);
    assert!(ok(&out).contains("audit chain intact"));
    let logs = server.stop();
    for log in [&logs, &scheduler_log] {
        assert!(!log.contains("sk-together-0123456789"));
    }
}
