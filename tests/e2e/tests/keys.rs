//! `secret-server keys`: status, data-key rotation, re-encryption, destruction of retired
//! keys and master-key rotation, run as commands beside a running server, each audited.

// Tests fail loudly by design.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Output;

use secret_testkit::process::{ServerProcess as Server, call, succeeded as ok};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_e2e-secret-server");

/// Runs `secret-server keys ARGS` on the server's database: dev mode (the data directory's
/// generated master key) unless `env` sets a master key.
fn keys(server: &Server, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut all = vec!["keys"];
    all.extend_from_slice(args);
    server.run_on_store(BIN, &all, env)
}

fn status(server: &Server, env: &[(&str, &str)]) -> Value {
    serde_json::from_str(&ok(&keys(server, &["status", "--json"], env))).unwrap()
}

fn line_value<'a>(stdout: &'a str, prefix: &str) -> &'a str {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no '{prefix}' line in {stdout:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_are_rotated_reencrypted_retired_and_destroyed_by_audited_commands() {
    let server = Server::start(BIN, &[]);
    let admin = server.token(&["--sub", "alice", "--org", "org-1=ADMIN"]);
    let root = server.token(&["--sub", "root", "--super-admin"]);
    let base = server.base.clone();
    let (code, _, created) = call(
        reqwest::Method::POST,
        format!("{base}/api/secrets"),
        &admin,
        Some(json!({"name": "K", "type": "API_KEY",
            "value": {"type": "API_KEY", "key": "sk-keys-cli-0123456789"},
            "scope": "ORGANIZATION", "organizationId": "org-1"})),
    )
    .await;
    assert_eq!(code, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    let read_value = || async {
        let (code, _, body) = call(
            reqwest::Method::GET,
            format!("{base}/api/secrets/{id}/value"),
            &admin,
            None,
        )
        .await;
        assert_eq!(code, 200, "{body}");
        assert_eq!(body["value"]["key"], "sk-keys-cli-0123456789");
    };

    let before = status(&server, &[]);
    let old_key = before["activeKeyId"].as_str().unwrap().to_string();
    assert_eq!(before["keys"].as_array().unwrap().len(), 1);
    assert_eq!(before["keys"][0]["status"], "ACTIVE");
    assert_eq!(before["reencryptionRemaining"], 0);

    let out = ok(&keys(
        &server,
        &["rotate-data-key", "--operator", "ops-alice"],
        &[],
    ));
    let new_key = line_value(&out, "active data key: ").to_string();
    assert_ne!(new_key, old_key);
    let rotated = status(&server, &[]);
    assert_eq!(rotated["activeKeyId"], new_key.as_str());
    assert_eq!(rotated["keys"][0]["status"], "ROTATING");
    // The version and its masked display are still under the old key.
    assert_eq!(rotated["reencryptionRemaining"], 2);
    read_value().await;

    let out = ok(&keys(
        &server,
        &["reencrypt", "--operator", "ops-alice", "--batch-size", "1"],
        &[],
    ));
    assert_eq!(line_value(&out, "re-encrypted: "), "2");
    assert_eq!(line_value(&out, "remaining: "), "0");
    assert_eq!(line_value(&out, "retired: "), old_key);
    assert_eq!(status(&server, &[])["keys"][0]["status"], "RETIRED");
    read_value().await;

    let out = ok(&keys(
        &server,
        &["destroy-retired", "--operator", "ops-alice"],
        &[],
    ));
    assert_eq!(line_value(&out, "destroyed: "), old_key);
    assert_eq!(status(&server, &[])["keys"][0]["status"], "DESTROYED");
    read_value().await;

    // A new master key: a bad one changes nothing; a good one re-wraps, and only it opens
    // the database afterwards.
    let out = keys(
        &server,
        &["rotate-master-key", "--operator", "ops-alice"],
        &[("SECRETS_NEW_MASTER_KEY", "short")],
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("SECRETS_NEW_MASTER_KEY"), "{stderr}");
    assert!(
        !stderr.contains("short\n") && !stderr.contains("'short'"),
        "{stderr}"
    );
    let new_master = "a new master passphrase for the keys test";
    let out = ok(&keys(
        &server,
        &["rotate-master-key", "--operator", "ops-alice"],
        &[("SECRETS_NEW_MASTER_KEY", new_master)],
    ));
    assert!(out.contains("master key rotated"), "{out}");
    assert!(!out.contains(new_master));
    let stale = keys(&server, &["status"], &[]);
    assert!(
        !stale.status.success(),
        "the old master key no longer opens it"
    );
    let with_new = status(&server, &[("SECRETS_MASTER_KEY", new_master)]);
    assert_eq!(with_new["activeKeyId"], new_key.as_str());

    // Every command is in the audit trail as the operator's, actor type SYSTEM.
    let (code, _, page) = call(
        reqwest::Method::GET,
        format!("{base}/api/secrets/audit?eventType=KEY_ROTATED,KEY_RETIRED&limit=50"),
        &root,
        None,
    )
    .await;
    assert_eq!(code, 200, "{page}");
    let mut seen: Vec<(String, String, String, String)> = page["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items in {page}"))
        .iter()
        .map(|r| {
            (
                r["eventType"].as_str().unwrap().to_string(),
                r["action"].as_str().unwrap().to_string(),
                r["actorId"].as_str().unwrap().to_string(),
                r["actorType"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    seen.sort();
    let expect = |e: &str, a: &str| {
        (
            e.to_string(),
            a.to_string(),
            "ops-alice".to_string(),
            "SYSTEM".to_string(),
        )
    };
    assert_eq!(
        seen,
        vec![
            expect("KEY_RETIRED", "DESTROYED"),
            expect("KEY_RETIRED", "RETIRED"),
            expect("KEY_ROTATED", "KEY_ROTATED"),
            expect("KEY_ROTATED", "KEY_ROTATED"),
            expect("KEY_ROTATED", "REENCRYPT"),
        ]
    );
    let logs = server.stop();
    assert!(!logs.contains("sk-keys-cli-0123456789"));
    assert!(!logs.contains(new_master));
}
