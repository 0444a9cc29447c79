//! Several processes on one database (issue 13, ARCHITECTURE §8): on PostgreSQL three
//! `secret-server` replicas and two `secret-scheduler`s; on SQLite (one file) two servers
//! and one scheduler. Every server caches for 300 s, so only the change feed can make the
//! others see a write in time:
//!
//! - a value update, a rotation, a revocation and a deletion through one server are served
//!   by every other within 5 s (the propagation delays are measured and printed);
//! - an automatic rotation that is due happens exactly once, and every server serves it;
//! - killing a server in the middle of writes and killing a scheduler loses nothing: every
//!   write a client saw acknowledged is there, and the audit chain verifies.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::{Duration, Instant};

use reqwest::Method;
use secret_api::{CreateSecretParams, SecretScope, SecretService, SecretValue};
use secret_core::model::LifecycleSettings;
use secret_core::value::ApiKeySecret;
use secret_core::{AnySecretValue, ManualClock, RotationStrategy};
use secret_testkit::process::{ServerProcess as Server, call, succeeded as ok};
use serde_json::{Value, json};

const SERVER: &str = env!("CARGO_BIN_EXE_e2e-secret-server");
const SCHEDULER: &str = env!("CARGO_BIN_EXE_e2e-secret-scheduler");
const WITHIN: Duration = Duration::from_secs(5);
const SETTINGS: &[(&str, &str)] = &[
    ("SECRETS_CACHE_TTL_SECONDS", "300"),
    ("SECRETS_RATE_LIMIT_PER_MINUTE", "100000000"),
];

async fn value(base: &str, token: &str, id: &str) -> (u16, Value) {
    let (code, _, body) = call(
        Method::GET,
        format!("{base}/api/secrets/{id}/value"),
        token,
        None,
    )
    .await;
    (code, body)
}

fn key_of(body: &Value) -> &str {
    body["value"]["key"].as_str().unwrap_or("")
}

/// How long until `check` holds on the server at `base`, polled every 2 ms: the time the
/// first check that held was sent (a check takes a request's time); panics after
/// [`WITHIN`].
async fn until<F, Fut>(what: &str, base: &str, check: F) -> Duration
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        let sent = start.elapsed();
        if check(base.to_string()).await {
            return sent;
        }
        assert!(
            start.elapsed() < WITHIN,
            "{what} on {base}: not within {WITHIN:?}"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// How long until a value read of `id` with `token` answers `status` on each of `bases`.
async fn answers(
    what: &str,
    bases: &[String],
    token: &str,
    id: &str,
    status: u16,
) -> Vec<Duration> {
    let mut delays = Vec::new();
    for base in bases {
        delays.push(
            until(what, base, |b| {
                let (token, id) = (token.to_string(), id.to_string());
                async move { value(&b, &token, &id).await.0 == status }
            })
            .await,
        );
    }
    delays
}

/// An AUTOMATIC secret whose rotation (random handler) has been due for ten days, written
/// by a service whose clock is 40 days behind; returns its id.
async fn overdue_secret(server: &Server) -> String {
    let material =
        secret_api::MasterKeyMaterial::from_file(&server.data_dir.join("master.key")).unwrap();
    let db = secret_store::Database::connect(&secret_store::DbConfig::new(server.db_url.clone()))
        .await
        .unwrap();
    let past = chrono::Utc::now() - chrono::Duration::days(40);
    let service = SecretService::open(db, &material, Arc::new(ManualClock::new(past)))
        .await
        .unwrap();
    let mut p = CreateSecretParams::new(
        "AUTO_ROTATED",
        SecretScope::Organization,
        SecretValue::new(AnySecretValue::ApiKey(ApiKeySecret {
            key: "sk-before-auto-rotation-1".into(),
        })),
    );
    p.rotation_enabled = true;
    p.rotation_interval_days = Some(30);
    p.lifecycle = LifecycleSettings {
        rotation_strategy: RotationStrategy::Automatic,
        rotation_handler: Some("random".into()),
        ..LifecycleSettings::default()
    };
    let ctx = secret_testkit::db::admin_ctx("alice", "org-1", "team-1", "project-1");
    let id = service.create_secret(p, &ctx).await.unwrap().id.to_string();
    service.close().await.unwrap();
    id
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_and_schedulers_on_one_database_never_serve_what_another_changed() {
    let first = Server::start(SERVER, SETTINGS);
    let postgres = first.pg.is_some();
    let admin = first.token(&["--sub", "alice", "--org", "org-1=ADMIN"]);
    let member = first.token(&["--sub", "bob", "--org", "org-1=MEMBER"]);
    let root = first.token(&["--sub", "root", "--super-admin"]);
    let auto = overdue_secret(&first).await;
    let mut servers = vec![first];
    for _ in 1..(if postgres { 3 } else { 2 }) {
        servers.push(servers[0].replica(SETTINGS));
    }
    let bases: Vec<String> = servers.iter().map(|s| s.base.clone()).collect();
    eprintln!(
        "{} servers and {} scheduler(s) on {}",
        servers.len(),
        if postgres { 2 } else { 1 },
        if postgres { "PostgreSQL" } else { "SQLite" }
    );

    // Every server caches the overdue secret's first value before any scheduler runs.
    for base in &bases {
        let (code, body) = value(base, &admin, &auto).await;
        assert_eq!(
            (code, key_of(&body)),
            (200, "sk-before-auto-rotation-1"),
            "{body}"
        );
    }
    let scheduler_env = [("SECRETS_ROTATION_INTERVAL_SECS", "1")];
    let mut schedulers: Vec<_> = (0..if postgres { 2 } else { 1 })
        .map(|_| servers[0].spawn_on_store(SCHEDULER, &[], &scheduler_env))
        .collect();

    // The due rotation happens once, and every server serves it.
    for base in &bases {
        until("the automatic rotation is served", base, |b| {
            let (admin, auto) = (admin.clone(), auto.clone());
            async move {
                let (code, body) = value(&b, &admin, &auto).await;
                code == 200 && body["version"] == 2
            }
        })
        .await;
    }
    // Several more rotation passes of both schedulers find nothing due.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (_, _, rotated) = call(
        Method::GET,
        format!(
            "{}/api/secrets/audit?secretId={auto}&eventType=SECRET_ROTATED&limit=100",
            bases[0]
        ),
        &root,
        None,
    )
    .await;
    let rotations = rotated["items"].as_array().unwrap();
    assert_eq!(rotations.len(), 1, "{rotated}");
    assert_eq!(rotations[0]["outcome"], "SUCCESS");
    let (_, body) = value(&bases[1], &admin, &auto).await;
    assert_eq!(body["version"], 2);

    // Value updates through each server in turn, seen by every other.
    let (code, _, created) = call(
        Method::POST,
        format!("{}/api/secrets", bases[0]),
        &admin,
        Some(
            json!({"name": "SHARED", "type": "API_KEY", "scope": "ORGANIZATION",
            "organizationId": "org-1", "value": {"type": "API_KEY", "key": "sk-shared-round-0"}}),
        ),
    )
    .await;
    assert_eq!(code, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    let mut delays = Vec::new();
    for round in 1..=20 {
        for base in &bases {
            assert_eq!(value(base, &admin, &id).await.0, 200);
        }
        let writer = round % bases.len();
        let new = format!("sk-shared-round-{round}");
        let path = if round % 2 == 0 { "rotate" } else { "value" };
        let (method, body) = if path == "rotate" {
            (
                Method::POST,
                json!({"newValue": {"type": "API_KEY", "key": new}}),
            )
        } else {
            (
                Method::PUT,
                json!({"value": {"type": "API_KEY", "key": new}}),
            )
        };
        let (code, _, r) = call(
            method,
            format!("{}/api/secrets/{id}/{path}", bases[writer]),
            &admin,
            Some(body),
        )
        .await;
        assert_eq!(code, 200, "{r}");
        for (_, base) in bases.iter().enumerate().filter(|(i, _)| *i != writer) {
            let took = until("a value update is served", base, |b| {
                let (admin, id, new) = (admin.clone(), id.clone(), new.clone());
                async move { key_of(&value(&b, &admin, &id).await.1) == new }
            })
            .await;
            delays.push(took);
        }
    }

    // A revocation through one server is enforced by the others.
    let (code, _, grant) = call(
        Method::POST,
        format!("{}/api/secrets/{id}/access", bases[0]),
        &admin,
        Some(json!({"granteeType": "USER", "granteeId": "bob", "canRead": true})),
    )
    .await;
    assert_eq!(code, 201, "{grant}");
    answers("the grant is honoured", &bases, &member, &id, 200).await;
    let grant = grant["id"].as_str().unwrap();
    let last = bases.len() - 1;
    let (code, _, _) = call(
        Method::DELETE,
        format!("{}/api/secrets/{id}/access/{grant}", bases[last]),
        &admin,
        None,
    )
    .await;
    assert!((200..300).contains(&code));
    delays.extend(
        answers(
            "the revocation is enforced",
            &bases[..last],
            &member,
            &id,
            403,
        )
        .await,
    );

    // Killing a server in the middle of its writes loses none it acknowledged.
    let acknowledged = Arc::new(AtomicI64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (base, admin, id) = (bases[last].clone(), admin.clone(), id.clone());
        let (acknowledged, stop) = (acknowledged.clone(), stop.clone());
        tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .timeout(Duration::from_secs(2))
                .build()
                .unwrap();
            for n in 0.. {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let sent = client
                    .put(format!("{base}/api/secrets/{id}/value"))
                    .bearer_auth(&admin)
                    .json(&json!({"value": {"type": "API_KEY", "key": format!("sk-killed-write-{n}")}}))
                    .send()
                    .await;
                match sent {
                    Ok(r) if r.status() == 200 => {
                        let body: Value = r.json().await.unwrap();
                        acknowledged
                            .store(body["currentVersion"].as_i64().unwrap(), Ordering::SeqCst);
                    }
                    _ => break,
                }
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(700)).await;
    servers[last].child.kill().unwrap();
    schedulers[0].kill();
    stop.store(true, Ordering::Relaxed);
    writer.await.unwrap();
    let acked = acknowledged.load(Ordering::SeqCst);
    assert!(acked > 0, "no write was acknowledged before the kill");
    let (code, _, meta) = call(
        Method::GET,
        format!("{}/api/secrets/{id}", bases[0]),
        &admin,
        None,
    )
    .await;
    assert_eq!(code, 200);
    let current = meta["currentVersion"].as_i64().unwrap();
    assert!(
        current >= acked,
        "acknowledged version {acked} lost (current {current})"
    );
    // The survivors serve the last write, which the killed server made.
    let (_, latest) = value(&bases[0], &admin, &id).await;
    assert_eq!(latest["version"], current);
    servers[last].kill_and_restart();
    let (code, restarted) = value(&servers[last].base, &admin, &id).await;
    assert_eq!(
        (code, &restarted["value"]),
        (200, &latest["value"]),
        "{restarted}"
    );

    // A deletion through one server is enforced by the others.
    let (code, _, _) = call(
        Method::DELETE,
        format!("{}/api/secrets/{id}", servers[last].base),
        &admin,
        None,
    )
    .await;
    assert!((200..300).contains(&code));
    delays.extend(answers("the deletion is enforced", &bases[..last], &admin, &id, 404).await);

    delays.sort();
    eprintln!(
        "propagation of {} changes to another server: p50 {:?}, p90 {:?}, p99 {:?}, max {:?}",
        delays.len(),
        percentile(&delays, 0.5),
        percentile(&delays, 0.9),
        percentile(&delays, 0.99),
        delays[delays.len() - 1]
    );
    drop(schedulers);
    // Written by up to five processes, one of them killed: the chain verifies.
    ok(&servers[0].run_on_store(SERVER, &["audit", "verify"], &[]));
    let mut servers = servers.into_iter();
    let first = servers.next().unwrap();
    for s in servers {
        s.stop();
    }
    first.stop();
}
