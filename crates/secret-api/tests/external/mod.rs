//! The service-level suite every external vault passes over HTTP, against the real server
//! and a real vault server (OpenBao, moto): a secret's whole life checked with the vault's
//! own API; a hung vault answering 503 with nothing half-written and everything working
//! again once it is back; writes interrupted between the vault and the database,
//! reconciled. Each backend's test file implements [`ExternalVault`] and calls these.

#![allow(dead_code)]

use chrono::{Duration, Utc};
use reqwest::Method;
use secret_core::Principal;
use secret_store::testing::controls::Controlled;
use secret_store::{PendingOperation, SecretRepository};
use secret_testkit::http::*;
use serde_json::{Value, json};

pub(crate) const V1: &str = "sk-ext-CANARY-one-0123456789";
pub(crate) const V2: &str = "sk-ext-CANARY-two-0123456789";

/// A vault server the tests can configure, look into, write to behind the service's back,
/// and freeze.
pub(crate) trait ExternalVault {
    /// The backend's wire name (`HASHICORP_VAULT`, ...).
    fn backend(&self) -> &'static str;
    /// A configuration's `config` keeping every object under `prefix`.
    fn config(&self, prefix: &str, timeout_seconds: u64) -> Value;
    /// A prefix no other test uses.
    fn fresh_prefix(&self) -> String;
    /// The vault's name for secret `id`'s object under `prefix`.
    fn object(&self, prefix: &str, id: &str) -> String;
    /// What the vault serves now as the object's current value; `None` when it serves
    /// nothing (no object, or it is deleted).
    async fn current(&self, object: &str) -> Option<Value>;
    /// Whether the vault holds the object at all (deleted or not).
    async fn holds(&self, object: &str) -> bool;
    /// Writes a new version of an existing object, as the service's write would have.
    async fn write_outside(&self, object: &str, value: Value);
    /// Makes a new object holding `value`, as the service's create would have.
    async fn create_outside(&self, object: &str, value: Value);
    /// Its switches: freeze, thaw, stop (a server of the test's own).
    fn controls(&self) -> &dyn Controlled;
}

fn root() -> Principal {
    Principal::user("root").as_super_admin()
}

/// Configures `vault` as a global vault under a prefix of its own; returns (id, prefix).
pub(crate) async fn configure(
    s: &Server,
    vault: &impl ExternalVault,
    timeout: u64,
) -> (String, String) {
    let prefix = vault.fresh_prefix();
    let r = s
        .call(
            Method::POST,
            "/api/vaults",
            &s.token(&root()),
            Some(json!({"name": format!("{}-{prefix}", vault.backend()),
                "backend": vault.backend(), "scope": "GLOBAL", "isDefault": false,
                "config": vault.config(&prefix, timeout)})),
        )
        .await;
    r.expect(201, "");
    (r.body["id"].as_str().unwrap().to_string(), prefix)
}

/// Replaces configuration `vault_id`'s settings with the same ones but a time limit of
/// `timeout` seconds per call, then has the service make its new client (a health check,
/// tried again for up to 15 seconds until healthy, as a short limit may be too short for a
/// first call on a loaded machine), so that later calls find the client made.
async fn set_time_limit(
    s: &Server,
    vault: &impl ExternalVault,
    vault_id: &str,
    prefix: &str,
    timeout: u64,
) {
    let root = s.token(&root());
    s.call(
        Method::PUT,
        &format!("/api/vaults/{vault_id}"),
        &root,
        Some(json!({"config": vault.config(prefix, timeout)})),
    )
    .await
    .expect(200, "");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let h = s
            .call(
                Method::POST,
                &format!("/api/vaults/{vault_id}/health"),
                &root,
                None,
            )
            .await;
        h.expect(200, "");
        if h.body["healthStatus"] == "HEALTHY" {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the vault stayed unhealthy: {}",
            h.text
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
}

pub(crate) async fn create_on(
    s: &Server,
    token: &str,
    vault: &str,
    name: &str,
    key: &str,
) -> Value {
    let mut body = api_key_body(name, key);
    body["vaultId"] = json!(vault);
    let r = s
        .call(Method::POST, "/api/secrets", token, Some(body))
        .await;
    r.expect(201, "");
    r.body
}

fn key(k: &str) -> Option<Value> {
    Some(json!({"type": "API_KEY", "key": k}))
}

/// Whether the service's database holds `needle` anywhere.
pub(crate) async fn database_holds(s: &Server, needle: &str) -> bool {
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

/// The (event type, outcome) of every audit record of secret `id` but its reads.
async fn audited(s: &Server, id: &str) -> Vec<(String, String)> {
    let audit = s
        .get(
            &format!("/api/secrets/audit?secretId={id}&limit=100"),
            &s.token(&root()),
        )
        .await;
    audit.body["items"]
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
        .collect()
}

async fn value_of(s: &Server, token: &str, id: &str) -> (Value, Value) {
    let r = s.get(&format!("/api/secrets/{id}/value"), token).await;
    r.expect(200, "");
    (r.body["version"].clone(), r.body["value"]["key"].clone())
}

/// The first value read once a frozen vault is back: the vault may still be working off
/// what it queued while frozen, so a 503 is tried again for up to 15 seconds; any other
/// answer counts.
async fn value_once_back(s: &Server, token: &str, id: &str) -> (Value, Value) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let r = s.get(&format!("/api/secrets/{id}/value"), token).await;
        if r.status == 503 && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            continue;
        }
        r.expect(200, "");
        return (r.body["version"].clone(), r.body["value"]["key"].clone());
    }
}

/// Configure, health, create, read, rotate, roll back, soft delete, restore, permanently
/// delete; the vault's own API shows each step, the database never holds a value, and
/// each operation is audited as a success exactly once.
pub(crate) async fn a_secret_lives_in_the_vault_through_its_whole_life(vault: &impl ExternalVault) {
    let s = spawn().await;
    let admin = s.token(&org_admin());
    let root = s.token(&root());
    let (vault_id, prefix) = configure(&s, vault, 10).await;
    let h = s
        .call(
            Method::POST,
            &format!("/api/vaults/{vault_id}/health"),
            &root,
            None,
        )
        .await;
    h.expect(200, "");
    assert_eq!(h.body["healthStatus"], "HEALTHY", "{}", h.text);

    let created = create_on(&s, &admin, &vault_id, "EXT_KEY", V1).await;
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(created["vaultId"], vault_id.as_str());
    assert_eq!(created["storageBackend"], vault.backend());
    let object = vault.object(&prefix, &id);
    assert_eq!(vault.current(&object).await, key(V1));
    assert_eq!(value_of(&s, &admin, &id).await, (json!(1), json!(V1)));
    let v = s.get(&format!("/api/vaults/{vault_id}"), &root).await;
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
    assert_eq!(vault.current(&object).await, key(V2));
    assert_eq!(value_of(&s, &admin, &id).await, (json!(2), json!(V2)));
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
    assert_eq!(vault.current(&object).await, key(V1));
    assert_eq!(value_of(&s, &admin, &id).await, (json!(3), json!(V1)));
    assert!(
        !database_holds(&s, "CANARY").await,
        "the database holds a value"
    );

    // Soft delete hides the vault's copy; restore brings it back.
    s.call(Method::DELETE, &format!("/api/secrets/{id}"), &admin, None)
        .await
        .expect(200, "");
    assert_eq!(
        vault.current(&object).await,
        None,
        "still served by the vault"
    );
    s.call(
        Method::POST,
        &format!("/api/secrets/{id}/restore"),
        &admin,
        None,
    )
    .await
    .expect(200, "");
    assert_eq!(vault.current(&object).await, key(V1));
    assert_eq!(value_of(&s, &admin, &id).await, (json!(3), json!(V1)));

    // Permanent delete removes the object and every version from the vault.
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
        !vault.holds(&object).await,
        "the vault still holds the secret"
    );
    let mut raw = s.t.db.raw().await;
    assert_eq!(
        raw.count("SELECT COUNT(*) FROM secret_pending_writes")
            .await,
        0
    );
    let events = audited(&s, &id).await;
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

/// A frozen vault: uncached reads, updates and creates answer 503 VAULT_CONNECTION_FAILED,
/// nothing is half-written, each failure is audited once; once it is back, reconciliation
/// removes whatever it took late and writes go on. `vault` is a server of the test's own.
pub(crate) async fn a_hung_vault_answers_503_leaves_nothing_half_written_and_recovers(
    vault: &impl ExternalVault,
) {
    let s = spawn().await;
    let admin = s.token(&org_admin());
    // A generous time limit while setting up; one second only while the vault hangs, so
    // that the hang is seen quickly and no call the test needs to succeed races it.
    let (vault_id, prefix) = configure(&s, vault, 10).await;
    let created = create_on(&s, &admin, &vault_id, "HUNG_KEY", V1).await;
    let id = created["id"].as_str().unwrap().to_string();
    let cached = create_on(&s, &admin, &vault_id, "CACHED_KEY", V2).await;
    let cached = cached["id"].as_str().unwrap().to_string();
    value_of(&s, &admin, &cached).await;
    let before = s.rows().await;

    set_time_limit(&s, vault, &vault_id, &prefix, 1).await;
    vault.controls().pause();
    // A value read a moment ago is served from the cache (sealed under a local data key),
    // still authorized and audited; one not cached needs the vault.
    assert_eq!(value_of(&s, &admin, &cached).await, (json!(1), json!(V2)));
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
    body["vaultId"] = json!(vault_id);
    s.call(Method::POST, "/api/secrets", &admin, Some(body))
        .await
        .expect(503, "VAULT_CONNECTION_FAILED");
    vault.controls().resume();
    set_time_limit(&s, vault, &vault_id, &prefix, 10).await;

    // Nothing half-written: the same rows, the same current version.
    assert_eq!(s.rows().await, before);
    let meta = s.get(&format!("/api/secrets/{id}"), &admin).await;
    assert_eq!(meta.body["currentVersion"], 1);
    let mut raw = s.t.db.raw().await;
    // Writes that could not be undone while the vault hung stay pending, marked abandoned
    // (the frozen vault may still take what was queued when it wakes up).
    assert_eq!(
        raw.count("SELECT COUNT(*) FROM secret_pending_writes WHERE operation = 'ABANDONED'")
            .await,
        2
    );
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
    let count = |e: &str| types.iter().filter(|t| **t == e).count();
    assert_eq!(count("SECRET_UPDATED"), 1, "{types:?}");
    assert_eq!(count("SECRET_CREATED"), 1, "{types:?}");

    // Back again: reconciliation (no grace for abandoned writes) removes whatever the vault
    // took of them, and everything works.
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
    let object = vault.object(&prefix, &id);
    assert_eq!(
        vault.current(&object).await,
        key(V1),
        "an abandoned write was kept"
    );
    assert_eq!(
        value_once_back(&s, &admin, &id).await,
        (json!(1), json!(V1))
    );
    s.call(
        Method::PUT,
        &format!("/api/secrets/{id}/value"),
        &admin,
        Some(json!({"value": {"type": "API_KEY", "key": V2}})),
    )
    .await
    .expect(200, "");
    assert_eq!(value_of(&s, &admin, &id).await, (json!(2), json!(V2)));
    assert_eq!(
        raw.count("SELECT COUNT(*) FROM secret_pending_writes")
            .await,
        0
    );
    // A cached value does not outlive its vault's configuration being disabled.
    s.call(
        Method::PUT,
        &format!("/api/vaults/{vault_id}"),
        &s.token(&root()),
        Some(json!({"isActive": false})),
    )
    .await
    .expect(200, "");
    s.get(&format!("/api/secrets/{id}/value"), &admin)
        .await
        .expect(400, "VAULT_NOT_CONFIGURED");
    vault.controls().stop();
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

/// An update and a create that reached the vault from a process that stopped before the
/// promote: nothing half-written is visible, further writes wait, and reconciliation
/// adopts the update (audited once, as the scheduler) and removes the orphan.
pub(crate) async fn writes_interrupted_between_the_vault_and_the_database_are_reconciled(
    vault: &impl ExternalVault,
) {
    let s = spawn().await;
    let admin = s.token(&org_admin());
    let root = s.token(&root());
    let (vault_id, prefix) = configure(&s, vault, 10).await;
    let created = create_on(&s, &admin, &vault_id, "INTERRUPTED", V1).await;
    let id = created["id"].as_str().unwrap().to_string();
    let object = vault.object(&prefix, &id);

    // An update reached the vault and its process stopped before the promote.
    leave_pending(&s, &id, 2, &vault_id, PendingOperation::Update).await;
    vault
        .write_outside(&object, json!({"type": "API_KEY", "key": V2}))
        .await;
    // A create reached the vault and never made it into the database.
    let orphan = uuid::Uuid::now_v7().to_string();
    let orphan_object = vault.object(&prefix, &orphan);
    leave_pending(&s, &orphan, 1, &vault_id, PendingOperation::Create).await;
    vault
        .create_outside(&orphan_object, json!({"type": "GENERIC", "value": "x"}))
        .await;
    // Until it is settled, nothing half-written is visible and further writes wait.
    assert_eq!(value_of(&s, &admin, &id).await, (json!(1), json!(V1)));
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
    assert_eq!(value_of(&s, &admin, &id).await, (json!(2), json!(V2)));
    assert!(!vault.holds(&orphan_object).await, "the orphan was kept");
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

/// How a vault shows a secret's expiry: seconds since the epoch, `None` when it shows none.
pub(crate) type ShownExpiry<V> = fn(&V, &str) -> Option<i64>;

/// The secret's expiry follows it into the vault (`shown` reads the vault's copy): set at
/// create, moved by a metadata change, carried onto a new version, and removed when the
/// secret's expiry is, right away when `clears` (a vault keeping it on the secret), else
/// from the next version on (a vault keeping it per version that cannot unset it). The
/// value stays readable throughout.
pub(crate) async fn the_expiry_follows_the_secret_into_the_vault<V: ExternalVault>(
    vault: &V,
    shown: ShownExpiry<V>,
    clears: bool,
) {
    let s = spawn().await;
    let admin = s.token(&org_admin());
    let (vault_id, prefix) = configure(&s, vault, 5).await;
    let at = |days: i64| {
        let t = Utc::now() + Duration::days(days);
        (t.timestamp(), t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
    };
    let (t1, t1_text) = at(10);
    let mut body = api_key_body("EXPIRY_MIRRORED", V1);
    body["vaultId"] = json!(vault_id);
    body["expiresAt"] = json!(t1_text);
    let r = s
        .call(Method::POST, "/api/secrets", &admin, Some(body))
        .await;
    r.expect(201, "");
    let id = r.body["id"].as_str().unwrap().to_string();
    let object = vault.object(&prefix, &id);
    assert_eq!(shown(vault, &object), Some(t1), "expiry after create");

    let (t2, t2_text) = at(20);
    let put = |path: String, body: Value| {
        let (s, admin) = (&s, &admin);
        async move { s.call(Method::PUT, &path, admin, Some(body)).await }
    };
    put(format!("/api/secrets/{id}"), json!({"expiresAt": t2_text}))
        .await
        .expect(200, "");
    assert_eq!(shown(vault, &object), Some(t2), "expiry after a change");
    put(
        format!("/api/secrets/{id}/value"),
        json!({"value": {"type": "API_KEY", "key": V2}}),
    )
    .await
    .expect(200, "");
    assert_eq!(shown(vault, &object), Some(t2), "expiry on a new version");
    assert_eq!(vault.current(&object).await.unwrap()["key"], V2);

    let r = put(format!("/api/secrets/{id}"), json!({"expiresAt": null})).await;
    r.expect(200, "");
    assert_eq!(r.body["expiresAt"], Value::Null);
    if clears {
        assert_eq!(shown(vault, &object), None, "expiry removed");
    } else {
        assert_eq!(
            shown(vault, &object),
            Some(t2),
            "kept until the next version"
        );
    }
    put(
        format!("/api/secrets/{id}/value"),
        json!({"value": {"type": "API_KEY", "key": V1}}),
    )
    .await
    .expect(200, "");
    assert_eq!(shown(vault, &object), None, "no expiry on the next version");
    let r = s.get(&format!("/api/secrets/{id}/value"), &admin).await;
    r.expect(200, "");
    assert_eq!(r.body["value"]["key"], V1);
}
