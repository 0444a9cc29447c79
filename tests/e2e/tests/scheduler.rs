//! The real `secret-scheduler` binary against a real database (SQLite by default,
//! PostgreSQL when `DATABASE_URL` points at one): two instances racing for one due
//! rotation act once; an instance killed in the middle of a rotation leaves the secret
//! as it was, and the next run completes the rotation.

// Tests and their helpers fail loudly by design.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use chrono::Utc;
use secret_api::{CreateSecretParams, SecretScope, SecretService, SecretValue};
use secret_core::model::LifecycleSettings;
use secret_core::value::ApiKeySecret;
use secret_core::{AnySecretValue, ManualClock, RotationStrategy, SecretAuditEventType, SecretId};
use secret_testkit::*;

const BIN: &str = env!("CARGO_BIN_EXE_e2e-secret-scheduler");
const WEBHOOK_KEY: &str = "a-webhook-signing-key-of-at-least-32-bytes";

/// A rotation endpoint on 127.0.0.1: counts requests; answers each after `delay` with a
/// new API key, or never answers when `hang`.
struct Endpoint {
    url: String,
    hits: Arc<AtomicUsize>,
    accepted: mpsc::Receiver<()>,
}

fn endpoint(delay: Duration, hang: bool) -> Endpoint {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/rotate", listener.local_addr().unwrap());
    let hits = Arc::new(AtomicUsize::new(0));
    let (tx, accepted) = mpsc::channel();
    let counter = hits.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
            let _ = tx.send(());
            std::thread::spawn(move || {
                let mut buf = [0u8; 8192];
                let _ = stream.read(&mut buf);
                if hang {
                    std::thread::sleep(Duration::from_secs(120));
                    return;
                }
                std::thread::sleep(delay);
                let body = format!(
                    r#"{{"value":{{"type":"API_KEY","key":"sk-from-endpoint-{n:04}-0123456789"}}}}"#
                );
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            });
        }
    });
    Endpoint {
        url,
        hits,
        accepted,
    }
}

/// A database with one AUTOMATIC secret (webhook handler) whose rotation is 10 days
/// overdue; returns the database, the master key and the secret's id.
async fn overdue_secret() -> (TestDb, String, SecretId) {
    let db = TestDb::new().await;
    let (material, b64) = random_master_key();
    let past = Utc::now() - chrono::Duration::days(40);
    let service = SecretService::open(
        db.connect().await,
        &material,
        Arc::new(ManualClock::new(past)),
    )
    .await
    .unwrap();
    let mut p = CreateSecretParams::new(
        "PAYMENTS_KEY",
        SecretScope::Organization,
        SecretValue::new(AnySecretValue::ApiKey(ApiKeySecret {
            key: "sk-original-0123456789".into(),
        })),
    );
    p.rotation_enabled = true;
    p.rotation_interval_days = Some(30);
    p.lifecycle = LifecycleSettings {
        rotation_strategy: RotationStrategy::Automatic,
        rotation_handler: Some("webhook".into()),
        ..LifecycleSettings::default()
    };
    let id = service.create_secret(p, &ctx()).await.unwrap().id;
    (db, b64, id)
}

fn scheduler(db: &TestDb, master_key: &str, rotate_url: &str, dir: &std::path::Path) -> Child {
    let key_file = dir.join("webhook.key");
    std::fs::write(&key_file, WEBHOOK_KEY).unwrap();
    Command::new(BIN)
        .args(["--once", "--data-dir"])
        .arg(dir)
        .arg("--metrics-file")
        .arg(dir.join(format!("metrics-{}.prom", uuid::Uuid::new_v4().simple())))
        .args([
            "--database-url",
            &db.url,
            "--rotation-webhook-url",
            rotate_url,
        ])
        .arg("--webhook-secret-file")
        .arg(&key_file)
        .args(["--rotation-lease-secs", "2"])
        .env("SECRETS_MASTER_KEY", master_key)
        .env_remove("SECRETS_MASTER_KEY_FILE")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn finish(child: Child) -> String {
    let out = child.wait_with_output().unwrap();
    let logs = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "scheduler failed:\n{logs}");
    logs
}

async fn service(db: &TestDb, master_key: &str) -> SecretService {
    let material = secret_api::MasterKeyMaterial::parse(master_key).unwrap();
    SecretService::open(
        db.connect().await,
        &material,
        Arc::new(secret_core::SystemClock),
    )
    .await
    .unwrap()
}

async fn rotations(s: &SecretService) -> (usize, usize) {
    let rs = s.audit_records_after(0, 10_000).await.unwrap();
    let rotated: Vec<_> = rs
        .iter()
        .filter(|r| r.entry.event_type == SecretAuditEventType::SecretRotated)
        .collect();
    let ok = rotated
        .iter()
        .filter(|r| r.entry.outcome == secret_core::AuditOutcome::Success)
        .count();
    (ok, rotated.len() - ok)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_schedulers_rotate_a_due_secret_exactly_once() {
    let (db, key, id) = overdue_secret().await;
    let ep = endpoint(Duration::from_millis(1500), false);
    let dir = tempfile::tempdir().unwrap();
    let a = scheduler(&db, &key, &ep.url, dir.path());
    let b = scheduler(&db, &key, &ep.url, dir.path());
    let (la, lb) = (finish(a), finish(b));
    assert_eq!(
        ep.hits.load(Ordering::SeqCst),
        1,
        "one handler call:\n{la}\n{lb}"
    );
    if db.is_postgres() {
        // On PostgreSQL the second instance finds the rotation job's advisory lock taken.
        let skipped = format!("{la}{lb}")
            .lines()
            .any(|l| l.contains("another scheduler is running this job") && l.contains("rotation"));
        assert!(skipped, "{la}\n{lb}");
    }
    let s = service(&db, &key).await;
    let meta = s.get_metadata(&id, &ctx()).await.unwrap();
    assert_eq!(meta.current_version, 2);
    assert_eq!(rotations(&s).await, (1, 0));
    let value = s.get_secret_value(&id, &ctx()).await.unwrap();
    match value.value.expose_secret() {
        AnySecretValue::ApiKey(k) => assert_eq!(k.key, "sk-from-endpoint-0001-0123456789"),
        _ => panic!("type"),
    }
    assert!(s.verify_audit_chain().await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduler_killed_mid_rotation_leaves_consistent_state_and_the_next_run_completes() {
    let (db, key, id) = overdue_secret().await;
    let dir = tempfile::tempdir().unwrap();
    let hanging = endpoint(Duration::ZERO, true);
    let mut child = scheduler(&db, &key, &hanging.url, dir.path());
    // The scheduler has claimed the secret and is waiting for the handler: kill it.
    hanging
        .accepted
        .recv_timeout(Duration::from_secs(60))
        .expect("the scheduler reached the rotation endpoint");
    child.kill().unwrap();
    child.wait().unwrap();

    let s = service(&db, &key).await;
    let meta = s.get_metadata(&id, &ctx()).await.unwrap();
    assert_eq!(meta.current_version, 1, "nothing changed");
    match s.get_secret(&id, &ctx()).await.unwrap().expose_secret() {
        AnySecretValue::ApiKey(k) => assert_eq!(k.key, "sk-original-0123456789"),
        _ => panic!("type"),
    }
    assert_eq!(rotations(&s).await, (0, 0));
    assert!(s.verify_audit_chain().await.is_ok());

    // While the dead scheduler's claim lasts nobody rotates; after it, the next run does.
    let ep = endpoint(Duration::ZERO, false);
    finish(scheduler(&db, &key, &ep.url, dir.path()));
    assert_eq!(ep.hits.load(Ordering::SeqCst), 0, "the claim still held");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    finish(scheduler(&db, &key, &ep.url, dir.path()));
    assert_eq!(ep.hits.load(Ordering::SeqCst), 1);
    // Each run left its metrics; the last one counts one rotation.
    let newest = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".prom"))
        .max_by_key(|e| e.metadata().unwrap().modified().unwrap())
        .unwrap();
    let metrics = std::fs::read_to_string(newest.path()).unwrap();
    assert!(
        metrics.contains("secret_scheduler_job_actions_total{job=\"rotation\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("secret_scheduler_job_runs_total{job=\"purge\"} 1"));
    // A fresh service: the first one's read cache may hold the pre-rotation metadata for
    // its TTL (writes from another process are seen after it).
    let s = service(&db, &key).await;
    let meta = s.get_metadata(&id, &ctx()).await.unwrap();
    assert_eq!((meta.current_version, meta.rotation_failures), (2, 0));
    assert_eq!(rotations(&s).await, (1, 0));
    let mut raw = db.raw().await;
    assert_eq!(
        raw.count("SELECT COUNT(*) FROM secret_pending_versions")
            .await,
        0
    );
    assert!(s.verify_audit_chain().await.is_ok());
}
