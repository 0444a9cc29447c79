//! Durability under crashes (issue 14): value reads and value writes run concurrently
//! against the real server, which is killed with SIGKILL at a random moment and started
//! again, round after round. After every restart, everything the client saw acknowledged
//! is there:
//!
//! - every value read answered 200 has its SECRET_READ record (found by its request id);
//! - every write answered 200 is there with its version, and that version decrypts to the
//!   value written;
//! - every secret's versions run from 1 to its current version without a gap;
//! - every current value decrypts, and is the last acknowledged write or the one that was
//!   in flight when the server died;
//! - `audit verify` passes.
//!
//! SIGKILL keeps the operating system's page cache, so a commit that never reached the disk
//! would still pass the checks above: the durability settings themselves are asserted too
//! (every connection the server opened checked WAL with `synchronous=FULL` on SQLite;
//! `synchronous_commit` and `fsync` on for the PostgreSQL database).
//!
//! `SECRETS_CRASH_ROUNDS` sets the number of kills (20 by default).

// Tests fail loudly by design.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashSet;
use std::time::Duration;

use secret_testkit::RawConn;
use secret_testkit::process::{ServerProcess as Server, call, succeeded};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_e2e-secret-server");
/// Secrets written to, one writer each.
const SECRETS: usize = 3;
/// Concurrent value readers.
const READERS: usize = 6;

/// A write the server acknowledged.
struct Written {
    version: i64,
    key: String,
}

/// What the client knows of one secret.
struct Tracked {
    id: String,
    acked: Vec<Written>,
    /// The value of a write sent but not acknowledged when the server died.
    in_flight: Option<String>,
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

/// Reads values until the server is gone; returns the request ids of the reads answered 200.
async fn reader(base: String, token: String, ids: Vec<String>, offset: usize) -> Vec<String> {
    let http = client();
    let mut seen = Vec::new();
    for i in offset.. {
        let id = &ids[i % ids.len()];
        let request_id = uuid::Uuid::new_v4().to_string();
        let sent = http
            .get(format!("{base}/api/secrets/{id}/value"))
            .bearer_auth(&token)
            .header("x-request-id", &request_id)
            .send()
            .await;
        match sent {
            // The status line went out after the record committed: the value was handed over.
            Ok(res) if res.status() == 200 => seen.push(request_id),
            Ok(res) => panic!(
                "a value read answered {}: {}",
                res.status(),
                res.text().await.unwrap_or_default()
            ),
            Err(_) => break,
        }
    }
    seen
}

/// Writes new values to one secret, one at a time, until the server is gone; returns the
/// acknowledged writes and the value of the write in flight, if any.
async fn writer(
    base: String,
    token: String,
    id: String,
    round: usize,
) -> (Vec<Written>, Option<String>) {
    let http = client();
    let mut acked = Vec::new();
    for n in 0.. {
        let key = format!("sk-crash-{round}-{n}-{}", uuid::Uuid::new_v4().simple());
        let sent = http
            .put(format!("{base}/api/secrets/{id}/value"))
            .bearer_auth(&token)
            .json(&json!({"value": {"type": "API_KEY", "key": key}}))
            .send()
            .await;
        let res = match sent {
            Ok(res) => res,
            Err(_) => return (acked, Some(key)),
        };
        let status = res.status();
        let Ok(body) = res.json::<Value>().await else {
            // Killed between the status line and the body: committed, version unknown.
            return (acked, Some(key));
        };
        assert_eq!(status, 200, "a value write answered {status}: {body}");
        let version = body["currentVersion"].as_i64().unwrap();
        acked.push(Written { version, key });
    }
    (acked, None)
}

fn random_below(bound: u64) -> u64 {
    (uuid::Uuid::new_v4().as_u128() % u128::from(bound)) as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_acknowledged_is_lost_when_the_server_is_killed() {
    let rounds: usize = std::env::var("SECRETS_CRASH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let mut server = Server::start(BIN, &[("SECRETS_RATE_LIMIT_PER_MINUTE", "100000000")]);
    let token = server.token(&["--sub", "crash", "--org", "org-1=ADMIN"]);
    let mut secrets = Vec::new();
    for i in 0..SECRETS {
        let key = format!("sk-crash-initial-{i}");
        let (status, _, created) = call(
            reqwest::Method::POST,
            format!("{}/api/secrets", server.base),
            &token,
            Some(json!({
                "name": format!("CRASH_{i}"),
                "type": "API_KEY",
                "value": {"type": "API_KEY", "key": key},
                "scope": "ORGANIZATION",
                "organizationId": "org-1"
            })),
        )
        .await;
        assert_eq!(status, 201, "{created}");
        secrets.push(Tracked {
            id: created["id"].as_str().unwrap().to_string(),
            acked: vec![Written { version: 1, key }],
            in_flight: None,
        });
    }
    let ids: Vec<String> = secrets.iter().map(|s| s.id.clone()).collect();
    let mut reads_seen = Vec::new();
    let (mut writes_seen, mut in_flight_committed) = (0, 0);

    for round in 0..rounds {
        assert_durable(&server).await;
        let base = server.base.clone();
        let readers: Vec<_> = (0..READERS)
            .map(|r| tokio::spawn(reader(base.clone(), token.clone(), ids.clone(), r)))
            .collect();
        let writers: Vec<_> = ids
            .iter()
            .map(|id| tokio::spawn(writer(base.clone(), token.clone(), id.clone(), round)))
            .collect();
        tokio::time::sleep(Duration::from_millis(100 + random_below(600))).await;
        server.kill();
        let mut round_reads = Vec::new();
        for r in readers {
            round_reads.extend(r.await.unwrap());
        }
        let mut round_writes = Vec::new();
        for (secret, w) in secrets.iter_mut().zip(writers) {
            let (acked, in_flight) = w.await.unwrap();
            round_writes.extend(
                acked
                    .iter()
                    .map(|w| (secret.id.clone(), w.version, w.key.clone())),
            );
            secret.acked.extend(acked);
            secret.in_flight = in_flight;
        }
        server.restart();

        let mut raw = RawConn::connect(&server.db_url).await;
        let recorded: HashSet<String> = raw
            .texts(
                "SELECT request_id FROM secret_audit_logs WHERE event_type = 'SECRET_READ' \
                 AND outcome = 'SUCCESS' AND request_id IS NOT NULL",
            )
            .await
            .into_iter()
            .collect();
        let missing: Vec<&String> = round_reads
            .iter()
            .filter(|r| !recorded.contains(*r))
            .collect();
        assert!(
            missing.is_empty(),
            "round {round}: {} of {} reads answered 200 have no SECRET_READ record: {missing:?}",
            missing.len(),
            round_reads.len()
        );
        let stored: HashSet<String> = raw
            .texts("SELECT secret_id || ':' || CAST(version AS TEXT) FROM secret_versions")
            .await
            .into_iter()
            .collect();
        for (id, version, _) in &round_writes {
            assert!(
                stored.contains(&format!("{id}:{version}")),
                "round {round}: acknowledged version {version} of {id} is gone"
            );
        }
        for secret in &mut secrets {
            if check_secret(&server, &mut raw, secret, &token, round).await {
                in_flight_committed += 1;
            }
        }
        for (id, version, key) in &round_writes {
            let (status, _, body) = call(
                reqwest::Method::GET,
                format!("{}/api/secrets/{id}/versions/{version}", server.base),
                &token,
                None,
            )
            .await;
            assert_eq!(
                status, 200,
                "round {round}: version {version} of {id}: {body}"
            );
            assert_eq!(
                body["value"]["key"],
                key.as_str(),
                "round {round}: {id} v{version}"
            );
        }
        succeeded(&server.run_on_store(BIN, &["audit", "verify"], &[]));
        writes_seen += round_writes.len();
        reads_seen.extend(round_reads);
    }
    // A run that acknowledged nothing would prove nothing.
    assert!(
        reads_seen.len() >= rounds && writes_seen >= rounds,
        "too little load: {} reads, {writes_seen} writes in {rounds} rounds",
        reads_seen.len()
    );
    println!(
        "{rounds} kills: {} reads and {writes_seen} writes acknowledged, all there; \
         {in_flight_committed} unacknowledged writes had committed",
        reads_seen.len()
    );
    server.stop();
}

/// Checks one secret after a restart: versions 1..=current without a gap, and the current
/// value is the last acknowledged write, or the write in flight if it committed (then it
/// becomes acknowledged; returns whether it did).
async fn check_secret(
    server: &Server,
    raw: &mut RawConn,
    secret: &mut Tracked,
    token: &str,
    round: usize,
) -> bool {
    let id = &secret.id;
    let mut versions: Vec<i64> = raw
        .texts(&format!(
            "SELECT CAST(version AS TEXT) FROM secret_versions WHERE secret_id = '{id}'"
        ))
        .await
        .iter()
        .map(|v| v.parse().unwrap())
        .collect();
    versions.sort_unstable();
    let current: i64 = raw
        .text(&format!(
            "SELECT CAST(current_version AS TEXT) FROM secrets WHERE id = '{id}'"
        ))
        .await
        .parse()
        .unwrap();
    assert_eq!(
        versions,
        (1..=current).collect::<Vec<_>>(),
        "round {round}: versions of {id} are not contiguous up to {current}"
    );
    let (status, _, body) = call(
        reqwest::Method::GET,
        format!("{}/api/secrets/{id}/value", server.base),
        token,
        None,
    )
    .await;
    assert_eq!(status, 200, "round {round}: current value of {id}: {body}");
    let last = secret.acked.last().unwrap();
    let key = body["value"]["key"].as_str().unwrap().to_string();
    let in_flight = secret.in_flight.take();
    if current == last.version {
        assert_eq!(key, last.key, "round {round}: {id} lost its last write");
        false
    } else {
        assert_eq!(
            current,
            last.version + 1,
            "round {round}: {id} is at {current}, acknowledged {}",
            last.version
        );
        assert_eq!(
            Some(&key),
            in_flight.as_ref(),
            "round {round}: {id}'s unacknowledged version is not the write in flight"
        );
        secret.acked.push(Written {
            version: current,
            key,
        });
        true
    }
}

/// The durability settings of the server's connections: each one it opened logged its check
/// (the pool refuses a connection that fails it); on PostgreSQL the database's own settings,
/// as a new connection sees them, are asserted directly.
async fn assert_durable(server: &Server) {
    let logs = server.logs.lock().unwrap().clone();
    let opened: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("database connection opened"))
        .collect();
    assert!(!opened.is_empty(), "the server logged no connection check");
    if server.db_url.starts_with("postgres") {
        assert!(
            opened.iter().all(|l| l.contains("synchronous_commit=on")),
            "{opened:?}"
        );
        let mut raw = RawConn::connect(&server.db_url).await;
        assert_eq!(raw.text("SHOW synchronous_commit").await, "on");
        assert_eq!(raw.text("SHOW fsync").await, "on");
    } else {
        assert!(
            opened
                .iter()
                .all(|l| l.contains("synchronous=\"FULL\"") || l.contains("synchronous=FULL")),
            "{opened:?}"
        );
    }
}
