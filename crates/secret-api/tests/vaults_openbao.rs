//! Secrets kept in HashiCorp Vault's KV v2 API, over HTTP against the real server and a real
//! OpenBao (started by the test; skipped without a `bao` binary, failed instead under
//! `SECRETS_TEST_STRICT=1`). Checked with OpenBao's own API: the values are there, then not;
//! the service's database never holds them. On SQLite, and PostgreSQL with `DATABASE_URL`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{Duration, Utc};
use reqwest::Method;
use secret_core::Principal;
use secret_store::testing::openbao::{self, OpenBao};
use secret_store::{PendingOperation, SecretRepository};
use secret_testkit::http::*;
use serde_json::{Value, json};

const V1: &str = "sk-bao-CANARY-one-0123456789";
const V2: &str = "sk-bao-CANARY-two-0123456789";

fn root() -> Principal {
    Principal::user("root").as_super_admin()
}

/// Configures `bao` as a global vault under a path prefix of its own; returns (id, prefix).
async fn configure(s: &Server, bao: &OpenBao, timeout: u64) -> (String, String) {
    let prefix = format!("t-{}", uuid::Uuid::now_v7().simple());
    let r = s
        .call(
            Method::POST,
            "/api/vaults",
            &s.token(&root()),
            Some(
                json!({"name": format!("bao-{prefix}"), "backend": "HASHICORP_VAULT",
                "scope": "GLOBAL", "isDefault": false,
                "config": {"address": bao.address, "namespace": null, "mount": "secret",
                           "pathPrefix": prefix, "timeoutSeconds": timeout,
                           "auth": {"method": "TOKEN", "token": bao.root_token}}}),
            ),
        )
        .await;
    r.expect(201, "");
    (r.body["id"].as_str().unwrap().to_string(), prefix)
}

async fn create_on(s: &Server, token: &str, vault: &str, name: &str, key: &str) -> Value {
    let mut body = api_key_body(name, key);
    body["vaultId"] = json!(vault);
    let r = s
        .call(Method::POST, "/api/secrets", token, Some(body))
        .await;
    r.expect(201, "");
    r.body
}

async fn bao_value(bao: &OpenBao, path: &str, version: u64) -> Option<Value> {
    vaultrs::kv2::read_version::<Value>(&bao.root(), "secret", path, version)
        .await
        .ok()
}

async fn database_holds(s: &Server, needle: &str) -> bool {
    if let Some(path) = &s.t.db.sqlite_path {
        // The whole file, WAL included: nothing of the value, in any form we write.
        let mut bytes = std::fs::read(path).unwrap();
        if let Ok(wal) = std::fs::read(path.with_extension("db-wal")) {
            bytes.extend(wal);
        }
        return String::from_utf8_lossy(&bytes).contains(needle);
    }
    let mut raw = s.t.db.raw().await;
    let text = raw
        .text("SELECT string_agg(COALESCE(encode(encrypted_value, 'escape'), '') || COALESCE(vault_ref, ''), '|') FROM secret_versions")
        .await;
    text.contains(needle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_lives_in_openbao_through_its_whole_life() {
    let Some(bao) = openbao::server().await else {
        return;
    };
    let s = spawn().await;
    let admin = s.token(&org_admin());
    let root = s.token(&root());
    let (vault, prefix) = configure(&s, &bao, 10).await;
    let h = s
        .call(
            Method::POST,
            &format!("/api/vaults/{vault}/health"),
            &root,
            None,
        )
        .await;
    h.expect(200, "");
    assert_eq!(h.body["healthStatus"], "HEALTHY", "{}", h.text);

    let created = create_on(&s, &admin, &vault, "BAO_KEY", V1).await;
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(created["vaultId"], vault.as_str());
    assert_eq!(created["storageBackend"], "HASHICORP_VAULT");
    let path = format!("{prefix}/{id}");
    assert_eq!(
        bao_value(&bao, &path, 1).await,
        Some(json!({"type": "API_KEY", "key": V1}))
    );
    let r = s.get(&format!("/api/secrets/{id}/value"), &admin).await;
    r.expect(200, "");
    assert_eq!(r.body["value"]["key"], V1);
    let v = s.get(&format!("/api/vaults/{vault}"), &root).await;
    assert_eq!(v.body["secretCount"], 1);

    // Rotate: a second vault version; roll back: a third, holding the first value.
    let r = s
        .call(
            Method::POST,
            &format!("/api/secrets/{id}/rotate"),
            &admin,
            Some(json!({"newValue": {"type": "API_KEY", "key": V2}})),
        )
        .await;
    r.expect(200, "");
    assert_eq!(r.body["currentVersion"], 2);
    assert_eq!(
        bao_value(&bao, &path, 2).await,
        Some(json!({"type": "API_KEY", "key": V2}))
    );
    let r = s.get(&format!("/api/secrets/{id}/value"), &admin).await;
    assert_eq!(r.body["value"]["key"], V2);
    let r = s
        .get(&format!("/api/secrets/{id}/versions/1"), &admin)
        .await;
    assert_eq!(r.body["value"]["key"], V1);
    let r = s
        .call(
            Method::POST,
            &format!("/api/secrets/{id}/rollback"),
            &admin,
            Some(json!({"version": 1})),
        )
        .await;
    r.expect(200, "");
    assert_eq!(r.body["currentVersion"], 3);
    assert_eq!(
        bao_value(&bao, &path, 3).await,
        Some(json!({"type": "API_KEY", "key": V1}))
    );
    let r = s.get(&format!("/api/secrets/{id}/value"), &admin).await;
    assert_eq!(r.body["value"]["key"], V1);
    assert!(
        !database_holds(&s, "CANARY").await,
        "the database holds a value"
    );

    // Soft delete marks the vault's versions deleted; restore brings them back.
    s.call(Method::DELETE, &format!("/api/secrets/{id}"), &admin, None)
        .await
        .expect(200, "");
    assert_eq!(
        bao_value(&bao, &path, 3).await,
        None,
        "still readable in the vault"
    );
    s.call(
        Method::POST,
        &format!("/api/secrets/{id}/restore"),
        &admin,
        None,
    )
    .await
    .expect(200, "");
    assert!(bao_value(&bao, &path, 3).await.is_some());
    let r = s.get(&format!("/api/secrets/{id}/value"), &admin).await;
    assert_eq!(r.body["value"]["key"], V1);

    // Permanent delete removes every version from the vault.
    s.call(Method::DELETE, &format!("/api/secrets/{id}"), &admin, None)
        .await
        .expect(200, "");
    s.call(
        Method::DELETE,
        &format!("/api/secrets/{id}/permanent"),
        &admin,
        None,
    )
    .await
    .expect(204, "");
    assert!(
        vaultrs::kv2::read_metadata(&bao.root(), "secret", &path)
            .await
            .is_err(),
        "the vault still holds the secret"
    );
    let mut raw = s.t.db.raw().await;
    assert_eq!(
        raw.count("SELECT COUNT(*) FROM secret_pending_writes")
            .await,
        0
    );
    // Each operation recorded its success exactly once.
    let audit = s
        .get(
            &format!("/api/secrets/audit?secretId={id}&limit=100"),
            &root,
        )
        .await;
    let events: Vec<(String, String)> = audit.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["eventType"].as_str().unwrap().to_string(),
                r["outcome"].as_str().unwrap().to_string(),
            )
        })
        .filter(|(e, _)| e != "SECRET_READ")
        .collect();
    let count = |e: &str| events.iter().filter(|(t, _)| t == e).count();
    assert_eq!(count("SECRET_CREATED"), 1);
    assert_eq!(count("SECRET_ROTATED"), 1);
    assert_eq!(count("SECRET_UPDATED"), 1);
    assert_eq!(count("SECRET_DELETED"), 2);
    assert_eq!(count("SECRET_RESTORED"), 1);
    assert_eq!(count("SECRET_PERMANENTLY_DELETED"), 1);
    assert!(events.iter().all(|(_, o)| o == "SUCCESS"), "{events:?}");
    assert_never_logged(&[V1, V2]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_vault_answers_503_leaves_nothing_half_written_and_recovers() {
    let Some(bao) = OpenBao::spawn_private().await else {
        return;
    };
    let s = spawn().await;
    let admin = s.token(&org_admin());
    let (vault, prefix) = configure(&s, &bao, 1).await;
    let created = create_on(&s, &admin, &vault, "HUNG_KEY", V1).await;
    let id = created["id"].as_str().unwrap().to_string();
    let cached = create_on(&s, &admin, &vault, "CACHED_KEY", V2).await;
    let cached = cached["id"].as_str().unwrap().to_string();
    s.get(&format!("/api/secrets/{cached}/value"), &admin)
        .await
        .expect(200, "");
    let before = s.rows().await;

    bao.pause();
    // A value read a moment ago is served from the cache (sealed under a local data key),
    // still authorized and audited; one not cached needs the vault.
    let r = s.get(&format!("/api/secrets/{cached}/value"), &admin).await;
    r.expect(200, "");
    assert_eq!(r.body["value"]["key"], V2);
    // The read cache holds references, never values: reads still go to the vault.
    s.get(&format!("/api/secrets/{id}/value"), &admin)
        .await
        .expect(503, "VAULT_CONNECTION_FAILED");
    s.call(
        Method::PUT,
        &format!("/api/secrets/{id}/value"),
        &admin,
        Some(json!({"value": {"type": "API_KEY", "key": V2}})),
    )
    .await
    .expect(503, "VAULT_CONNECTION_FAILED");
    let mut body = api_key_body("NEVER_MADE", V2);
    body["vaultId"] = json!(vault);
    s.call(Method::POST, "/api/secrets", &admin, Some(body))
        .await
        .expect(503, "VAULT_CONNECTION_FAILED");
    bao.resume();

    // Nothing half-written: the same rows, the same current version, no pending write
    // left, and the vault holds only the first version.
    assert_eq!(s.rows().await, before);
    let meta = s.get(&format!("/api/secrets/{id}"), &admin).await;
    assert_eq!(meta.body["currentVersion"], 1);
    let mut raw = s.t.db.raw().await;
    // Neither write could be undone while the vault hung: both pending rows stay, marked
    // abandoned. The frozen vault may still take what was queued when it wakes up.
    assert_eq!(
        raw.count("SELECT COUNT(*) FROM secret_pending_writes WHERE operation = 'ABANDONED'")
            .await,
        2
    );
    let path = format!("{prefix}/{id}");
    // The failures were audited once each.
    let failed = s
        .get(
            "/api/secrets/audit?outcome=FAILURE&limit=100",
            &s.token(&root()),
        )
        .await;
    let types: Vec<&str> = failed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["eventType"].as_str().unwrap())
        .collect();
    assert_eq!(
        types.iter().filter(|t| **t == "SECRET_UPDATED").count(),
        1,
        "{types:?}"
    );
    assert_eq!(
        types.iter().filter(|t| **t == "SECRET_CREATED").count(),
        1,
        "{types:?}"
    );

    // Back again: reconciliation (no grace for abandoned writes) removes whatever the
    // vault took of them, and everything works.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let report =
        s.t.service
            .reconcile_pending_writes(Duration::minutes(10))
            .await
            .unwrap();
    assert_eq!((report.examined, report.acted, report.failed), (2, 2, 0));
    assert_eq!(
        raw.count("SELECT COUNT(*) FROM secret_pending_writes")
            .await,
        0
    );
    assert!(
        bao_value(&bao, &path, 2).await.is_none(),
        "an abandoned write was kept"
    );
    let r = s.get(&format!("/api/secrets/{id}/value"), &admin).await;
    r.expect(200, "");
    assert_eq!(r.body["value"]["key"], V1);
    s.call(
        Method::PUT,
        &format!("/api/secrets/{id}/value"),
        &admin,
        Some(json!({"value": {"type": "API_KEY", "key": V2}})),
    )
    .await
    .expect(200, "");
    let r = s.get(&format!("/api/secrets/{id}/value"), &admin).await;
    assert_eq!(
        (r.body["version"].clone(), r.body["value"]["key"].clone()),
        (json!(2), json!(V2))
    );
    assert_eq!(
        raw.count("SELECT COUNT(*) FROM secret_pending_writes")
            .await,
        0
    );
    bao.stop();
}

/// Records a pending write as a process that stopped after the vault write would have.
async fn leave_pending(s: &Server, id: &str, version: i64, vault: &str, op: PendingOperation) {
    let repo = SecretRepository::new(s.t.db.connect().await);
    let mut tx = repo.begin().await.unwrap();
    tx.stage_write(&secret_store::StagedWrite {
        secret_id: id,
        version,
        vault_id: vault,
        operation: op,
        actor_id: "user-1",
        now: Utc::now() - Duration::hours(1),
    })
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_interrupted_between_the_vault_and_the_database_are_reconciled() {
    let Some(bao) = openbao::server().await else {
        return;
    };
    let s = spawn().await;
    let admin = s.token(&org_admin());
    let root = s.token(&root());
    let (vault, prefix) = configure(&s, &bao, 10).await;
    let created = create_on(&s, &admin, &vault, "INTERRUPTED", V1).await;
    let id = created["id"].as_str().unwrap().to_string();
    let path = format!("{prefix}/{id}");

    // An update reached the vault (version 2) and its process stopped before the promote.
    leave_pending(&s, &id, 2, &vault, PendingOperation::Update).await;
    vaultrs::kv2::set_with_options(
        &bao.root(),
        "secret",
        &path,
        &json!({"type": "API_KEY", "key": V2}),
        vaultrs::api::kv2::requests::SetSecretRequestOptions { cas: 1 },
    )
    .await
    .unwrap();
    // A create reached the vault and never made it into the database.
    let orphan = uuid::Uuid::now_v7().to_string();
    let orphan_path = format!("{prefix}/{orphan}");
    leave_pending(&s, &orphan, 1, &vault, PendingOperation::Create).await;
    vaultrs::kv2::set(
        &bao.root(),
        "secret",
        &orphan_path,
        &json!({"type": "GENERIC", "value": "x"}),
    )
    .await
    .unwrap();
    // Until it is settled, nothing half-written is visible and further writes wait.
    let r = s.get(&format!("/api/secrets/{id}/value"), &admin).await;
    assert_eq!(r.body["value"]["key"], V1);
    s.call(
        Method::PUT,
        &format!("/api/secrets/{id}/value"),
        &admin,
        Some(json!({"value": {"type": "API_KEY", "key": "sk-blocked-0123456789"}})),
    )
    .await
    .expect(409, "CONFLICT");

    // A write still in flight (within the grace period) is left alone.
    let report =
        s.t.service
            .reconcile_pending_writes(Duration::hours(2))
            .await
            .unwrap();
    assert_eq!(report.examined, 0);
    let report =
        s.t.service
            .reconcile_pending_writes(Duration::minutes(10))
            .await
            .unwrap();
    assert_eq!((report.examined, report.acted, report.failed), (2, 2, 0));

    // The update is adopted as version 2, audited once; the orphan is gone from the vault.
    let r = s.get(&format!("/api/secrets/{id}/value"), &admin).await;
    r.expect(200, "");
    assert_eq!(r.body["value"]["key"], V2);
    assert_eq!(r.body["version"], 2);
    assert!(
        vaultrs::kv2::read_metadata(&bao.root(), "secret", &orphan_path)
            .await
            .is_err()
    );
    let mut raw = s.t.db.raw().await;
    assert_eq!(
        raw.count("SELECT COUNT(*) FROM secret_pending_writes")
            .await,
        0
    );
    let audit = s
        .get(
            &format!("/api/secrets/audit?secretId={id}&eventType=SECRET_UPDATED"),
            &root,
        )
        .await;
    // The blocked write's FAILURE, and the adoption once.
    let items: Vec<&Value> = audit.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["outcome"] == "SUCCESS")
        .collect();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["action"], "RECONCILED");
    assert_eq!(items[0]["actorType"], "SCHEDULER");
    // And writes go on from there.
    let r = s
        .call(
            Method::POST,
            &format!("/api/secrets/{id}/rotate"),
            &admin,
            Some(json!({"newValue": {"type": "API_KEY", "key": "sk-after-0123456789"}})),
        )
        .await;
    r.expect(200, "");
    assert_eq!(r.body["currentVersion"], 3);
}
