//! Migrations between vault configurations over HTTP (§11.3, §12.1), against the real
//! server and real vault servers (OpenBao; AWS through moto): local -> vault -> local with
//! every type and several versions, each value read back through the API after every leg;
//! deleteFromSource; continueOnError with one secret made to fail; stopping at the first
//! failure; pause and resume; the dry run's plan; who may migrate; the audit records.
//! Skipped without a `bao` or `moto_server` binary, failed instead under
//! `SECRETS_TEST_STRICT=1`. On SQLite, and PostgreSQL with `DATABASE_URL`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::Utc;
use reqwest::Method;
use secret_core::Principal;
use secret_store::testing::{moto, openbao};
use secret_testkit::http::*;
use serde_json::{Value, json};

mod rules;

const CERT: &str = include_str!("../../../secret-core/tests/fixtures/cert_rsa.pem");
const CERT_KEY: &str = include_str!("../../../secret-core/tests/fixtures/cert_rsa_key.pem");
const SSH: &str = include_str!("../../../secret-core/tests/fixtures/ssh_ed25519.key");

pub(crate) fn root() -> Principal {
    Principal::user("root")
        .as_super_admin()
        .authenticated_at(Utc::now())
}

/// One value of every type, with its name.
fn every_type() -> Vec<(&'static str, Value)> {
    vec![
        (
            "m-api-key",
            json!({"type": "API_KEY", "key": "sk-mig-CANARY-0123456789"}),
        ),
        (
            "m-oauth",
            json!({"type": "OAUTH2_TOKEN", "accessToken": "at-mig-CANARY", "refreshToken": "rt",
                   "tokenType": "Bearer", "expiresAt": "2031-06-01T12:00:00Z"}),
        ),
        (
            "m-login",
            json!({"type": "USERNAME_PASSWORD", "username": "alice", "password": "pw-mig-CANARY"}),
        ),
        (
            "m-cert",
            json!({"type": "CERTIFICATE", "certificate": CERT, "privateKey": CERT_KEY}),
        ),
        (
            "m-ssh",
            json!({"type": "SSH_KEY", "privateKey": SSH, "keyType": "ed25519"}),
        ),
        (
            "m-conn",
            json!({"type": "CONNECTION_STRING",
                   "connectionString": "postgres://u:pw-mig-CANARY@db:5432/app"}),
        ),
        (
            "m-json",
            json!({"type": "JSON_CREDENTIAL", "credential": {"type": "service_account", "k": "mig"}}),
        ),
        (
            "m-env",
            json!({"type": "ENV_VARIABLE_SET", "variables": {"A": "1", "B": "two words"}}),
        ),
        (
            "m-generic",
            json!({"type": "GENERIC", "value": "line one\nline \"two\" $HOME"}),
        ),
    ]
}

/// Configures a global vault; returns its id.
pub(crate) async fn configure(s: &Server, backend: &str, config: Value) -> String {
    let r = s
        .call(
            Method::POST,
            "/api/vaults",
            &s.token(&root()),
            Some(
                json!({"name": format!("mig-{}", uuid::Uuid::now_v7().simple()),
                "backend": backend, "scope": "GLOBAL", "isDefault": false, "config": config}),
            ),
        )
        .await;
    r.expect(201, "");
    r.body["id"].as_str().unwrap().to_string()
}

pub(crate) async fn openbao_vault(s: &Server) -> Option<(openbao::OpenBao, String, String)> {
    let bao = openbao::server().await?;
    let prefix = format!("mig-{}", uuid::Uuid::now_v7().simple());
    let config = json!({"address": bao.address, "namespace": null, "mount": "secret",
        "pathPrefix": prefix, "timeoutSeconds": 10,
        "auth": {"method": "TOKEN", "token": bao.root_token}});
    let id = configure(s, "HASHICORP_VAULT", config).await;
    Some((bao, id, prefix))
}

/// Creates a global secret; returns its id.
pub(crate) async fn create(s: &Server, name: &str, value: Value) -> String {
    let r = s
        .call(
            Method::POST,
            "/api/secrets",
            &s.token(&root()),
            Some(json!({"name": name, "type": value["type"], "scope": "GLOBAL", "value": value})),
        )
        .await;
    r.expect(201, "");
    r.body["id"].as_str().unwrap().to_string()
}

/// Starts a migration; returns its id.
pub(crate) async fn start(s: &Server, token: &str, body: Value) -> String {
    let r = s
        .call(Method::POST, "/api/secrets/migrate", token, Some(body))
        .await;
    r.expect(202, "");
    let id = r.body["id"].as_str().unwrap().to_string();
    assert_eq!(
        r.header("location"),
        Some(format!("/api/secrets/migrations/{id}").as_str())
    );
    id
}

/// Waits for a migration to finish; returns its status.
pub(crate) async fn finished(s: &Server, token: &str, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let r = s.get(&format!("/api/secrets/migrations/{id}"), token).await;
        r.expect(200, "");
        if matches!(r.body["state"].as_str(), Some("COMPLETED" | "FAILED")) {
            return r.body;
        }
        assert!(
            Instant::now() < deadline,
            "migration never finished: {}",
            r.text
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every version's value of a secret, oldest first, and its vault.
async fn history(s: &Server, id: &str) -> (String, Vec<Value>) {
    let token = s.token(&root());
    let meta = s.get(&format!("/api/secrets/{id}"), &token).await;
    meta.expect(200, "");
    let current = meta.body["currentVersion"].as_i64().unwrap();
    let mut values = Vec::new();
    for v in 1..=current {
        let r = s
            .get(&format!("/api/secrets/{id}/versions/{v}"), &token)
            .await;
        r.expect(200, "");
        values.push(r.body["value"].clone());
    }
    let current_value = s.get(&format!("/api/secrets/{id}/value"), &token).await;
    current_value.expect(200, "");
    assert_eq!(&current_value.body["value"], values.last().unwrap());
    (meta.body["vaultId"].as_str().unwrap().to_string(), values)
}

/// Secrets of every type, some with several versions; returns id -> every version's value.
async fn seed(s: &Server) -> BTreeMap<String, Vec<Value>> {
    let token = s.token(&root());
    let mut out = BTreeMap::new();
    for (i, (name, value)) in every_type().into_iter().enumerate() {
        let id = create(s, name, value).await;
        if i % 3 == 0 {
            for n in 0..2 {
                let r = s
                    .call(
                        Method::PUT,
                        &format!("/api/secrets/{id}/value"),
                        &token,
                        Some(json!({"value": {"type": "API_KEY", "key": format!("sk-v{n}-{i}-0123456789")}})),
                    )
                    .await;
                if name == "m-api-key" {
                    r.expect(200, "");
                }
            }
        }
        let (vault, values) = history(s, &id).await;
        assert_eq!(vault, "local");
        out.insert(id, values);
    }
    out
}

/// Migrates every secret of `from` to `to` and checks each one's every version.
async fn leg(
    s: &Server,
    from: &str,
    to: &str,
    expected: &BTreeMap<String, Vec<Value>>,
    delete: bool,
) {
    let token = s.token(&root());
    let plan = s
        .call(
            Method::POST,
            "/api/secrets/migrate",
            &token,
            Some(json!({"sourceVaultId": from, "targetVaultId": to, "dryRun": true})),
        )
        .await;
    plan.expect(200, "");
    assert_eq!(plan.body["secretCount"], expected.len());
    let versions: usize = expected.values().map(Vec::len).sum();
    assert_eq!(plan.body["versionCount"], versions);
    assert!(plan.body["estimatedDurationMs"].as_u64().unwrap() > 0);
    assert_eq!(
        plan.body["estimatedDuration"],
        plan.body["estimatedDurationMs"]
    );
    let id = start(
        s,
        &token,
        json!({"sourceVaultId": from, "targetVaultId": to, "versions": "ALL",
               "deleteFromSource": delete}),
    )
    .await;
    let status = finished(s, &token, &id).await;
    assert_eq!(status["state"], "COMPLETED", "{status}");
    assert_eq!(status["total"], expected.len());
    assert_eq!(status["migrated"], expected.len());
    assert_eq!(status["failed"], 0);
    assert_eq!(status["errors"], json!([]));
    assert!(status["startedAt"].is_string() && status["finishedAt"].is_string());
    assert_eq!(status["duration"], status["durationMs"]);
    assert!(status["durationMs"].is_u64());
    let target = s.get(&format!("/api/vaults/{to}"), &token).await;
    target.expect(200, "");
    for (secret, values) in expected {
        let (vault, now) = history(s, secret).await;
        assert_eq!(vault, to);
        assert_eq!(&now, values, "secret {secret} changed in the migration");
        let meta = s.get(&format!("/api/secrets/{secret}"), &token).await;
        assert_eq!(meta.body["storageBackend"], target.body["backend"]);
    }
}

async fn audit_count(s: &Server, event: &str, action: Option<&str>) -> i64 {
    let mut sql = format!("SELECT COUNT(*) FROM secret_audit_logs WHERE event_type = '{event}'");
    if let Some(action) = action {
        sql.push_str(&format!(" AND action = '{action}'"));
    }
    s.t.db.raw().await.count(&sql).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_to_openbao_and_back_keeps_every_type_and_version() {
    let s = spawn().await;
    let Some((bao, vault, prefix)) = openbao_vault(&s).await else {
        return;
    };
    let expected = seed(&s).await;
    leg(&s, "local", &vault, &expected, false).await;
    // The values are in OpenBao now, every version of each.
    for (id, values) in &expected {
        let meta = vaultrs::kv2::read_metadata(&bao.root(), "secret", &format!("{prefix}/{id}"))
            .await
            .unwrap();
        assert_eq!(meta.current_version as usize, values.len());
    }
    assert_eq!(audit_count(&s, "SECRET_UPDATED", Some("MIGRATE")).await, 9);
    assert_eq!(audit_count(&s, "SECRETS_MIGRATED", None).await, 1);
    leg(&s, &vault, "local", &expected, true).await;
    for id in expected.keys() {
        assert!(
            vaultrs::kv2::read_metadata(&bao.root(), "secret", &format!("{prefix}/{id}"))
                .await
                .is_err(),
            "deleteFromSource left {id} in OpenBao"
        );
    }
    assert_eq!(audit_count(&s, "SECRETS_MIGRATED", None).await, 2);
    assert_never_logged(&["sk-mig-CANARY-0123456789", "pw-mig-CANARY"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_to_aws_and_back_keeps_every_type_and_version() {
    let s = spawn().await;
    let Some(moto) = moto::server().await else {
        return;
    };
    let vault = configure(
        &s,
        "AWS_SECRETS_MANAGER",
        moto.config_json(&moto::fresh_prefix(), 10),
    )
    .await;
    let expected = seed(&s).await;
    leg(&s, "local", &vault, &expected, false).await;
    leg(&s, &vault, "local", &expected, true).await;
}

/// Destroys every version of secret `id`'s object in OpenBao behind the service's back.
async fn break_in_openbao(bao: &openbao::OpenBao, prefix: &str, id: &str) {
    vaultrs::kv2::delete_metadata(&bao.root(), "secret", &format!("{prefix}/{id}"))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn continue_on_error_moves_the_rest_and_lists_the_one_that_failed() {
    let s = spawn().await;
    let Some((bao, vault, prefix)) = openbao_vault(&s).await else {
        return;
    };
    let token = s.token(&root());
    let mut ids = Vec::new();
    for n in 0..4 {
        ids.push(
            create(
                &s,
                &format!("c-{n}"),
                json!({"type": "API_KEY", "key": format!("sk-c{n}-0123456789")}),
            )
            .await,
        );
    }
    let to_bao = start(
        &s,
        &token,
        json!({"sourceVaultId": "local", "targetVaultId": vault}),
    )
    .await;
    assert_eq!(finished(&s, &token, &to_bao).await["migrated"], 4);
    // The first secret (ids are in creation order) loses its value in OpenBao.
    break_in_openbao(&bao, &prefix, &ids[0]).await;

    // Without continueOnError the migration stops at it.
    let stopped = start(
        &s,
        &token,
        json!({"sourceVaultId": vault, "targetVaultId": "local"}),
    )
    .await;
    let status = finished(&s, &token, &stopped).await;
    assert_eq!(status["state"], "FAILED", "{status}");
    assert_eq!(
        (status["migrated"].as_u64(), status["failed"].as_u64()),
        (Some(0), Some(1))
    );
    assert_eq!(status["errors"][0]["secretId"], ids[0].as_str());
    assert_eq!(status["errors"][0]["secretName"], "c-0");
    assert!(!status["errors"][0]["error"].as_str().unwrap().is_empty());

    // With it, the other three move and the broken one stays where it was.
    let on = start(
        &s,
        &token,
        json!({"sourceVaultId": vault, "targetVaultId": "local", "continueOnError": true}),
    )
    .await;
    let status = finished(&s, &token, &on).await;
    assert_eq!(status["state"], "COMPLETED", "{status}");
    assert_eq!(
        (status["migrated"].as_u64(), status["failed"].as_u64()),
        (Some(3), Some(1))
    );
    assert_eq!(status["errors"].as_array().unwrap().len(), 1);
    assert_eq!(status["errors"][0]["secretId"], ids[0].as_str());
    for (n, id) in ids.iter().enumerate() {
        let meta = s.get(&format!("/api/secrets/{id}"), &token).await;
        let expected_vault = if n == 0 { vault.as_str() } else { "local" };
        assert_eq!(meta.body["vaultId"], expected_vault);
        if n > 0 {
            let r = s.get(&format!("/api/secrets/{id}/value"), &token).await;
            assert_eq!(r.body["value"]["key"], format!("sk-c{n}-0123456789"));
        }
    }
    let mut raw = s.t.db.raw().await;
    let failures = raw
        .count(
            "SELECT COUNT(*) FROM secret_audit_logs \
             WHERE event_type = 'SECRETS_MIGRATED' AND outcome = 'FAILURE'",
        )
        .await;
    assert_eq!(failures, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_migration_stops_and_resumes_where_it_stopped() {
    let s = spawn().await;
    let Some((_bao, vault, _)) = openbao_vault(&s).await else {
        return;
    };
    let token = s.token(&root());
    let items: Vec<Value> = (0..150)
        .map(|n| {
            json!({"name": format!("p-{n:03}"), "type": "API_KEY",
                        "value": {"type": "API_KEY", "key": format!("sk-p{n}-0123456789")}})
        })
        .collect();
    let r = s
        .call(
            Method::POST,
            "/api/secrets/import/json",
            &token,
            Some(json!({"secrets": items, "targetScope": "GLOBAL"})),
        )
        .await;
    r.expect(200, "");
    assert_eq!(r.body["imported"], 150);
    let id = start(
        &s,
        &token,
        json!({"sourceVaultId": "local", "targetVaultId": vault}),
    )
    .await;
    let paused = s
        .call(
            Method::POST,
            &format!("/api/secrets/migrations/{id}/pause"),
            &token,
            None,
        )
        .await;
    paused.expect(200, "");
    assert_eq!(paused.body["state"], "PAUSED");
    // The runner stops after the secret it was on: the count stands still.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let a = s
        .get(&format!("/api/secrets/migrations/{id}"), &token)
        .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let b = s
        .get(&format!("/api/secrets/migrations/{id}"), &token)
        .await;
    assert_eq!(a.body["migrated"], b.body["migrated"]);
    assert_eq!(b.body["state"], "PAUSED");
    assert!(b.body["migrated"].as_u64().unwrap() < 150);
    s.call(
        Method::POST,
        &format!("/api/secrets/migrations/{id}/pause"),
        &token,
        None,
    )
    .await
    .expect(409, "CONFLICT");
    let resumed = s
        .call(
            Method::POST,
            &format!("/api/secrets/migrations/{id}/resume"),
            &token,
            None,
        )
        .await;
    resumed.expect(200, "");
    assert_eq!(resumed.body["state"], "RUNNING");
    let status = finished(&s, &token, &id).await;
    assert_eq!(status["state"], "COMPLETED");
    assert_eq!(status["migrated"], 150);
    assert_eq!(status["total"], 150);
    s.call(
        Method::POST,
        &format!("/api/secrets/migrations/{id}/resume"),
        &token,
        None,
    )
    .await
    .expect(409, "CONFLICT");
    let r = s.get("/api/secrets?limit=200", &token).await;
    let items = r.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 150);
    assert!(items.iter().all(|i| i["vaultId"] == vault.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_left_in_the_target_is_never_overwritten_or_removed() {
    let s = spawn().await;
    let Some((bao, vault, prefix)) = openbao_vault(&s).await else {
        return;
    };
    let token = s.token(&root());
    let id = create(
        &s,
        "left",
        json!({"type": "API_KEY", "key": "sk-left-0123456789"}),
    )
    .await;
    let there = start(
        &s,
        &token,
        json!({"sourceVaultId": "local", "targetVaultId": vault}),
    )
    .await;
    assert_eq!(finished(&s, &token, &there).await["migrated"], 1);
    // Back without deleting from OpenBao: its copy stays there.
    let back = start(
        &s,
        &token,
        json!({"sourceVaultId": vault, "targetVaultId": "local"}),
    )
    .await;
    assert_eq!(finished(&s, &token, &back).await["migrated"], 1);
    let object = format!("{prefix}/{id}");
    let before = vaultrs::kv2::read_metadata(&bao.root(), "secret", &object)
        .await
        .unwrap();
    let again = start(
        &s,
        &token,
        json!({"sourceVaultId": "local", "targetVaultId": vault}),
    )
    .await;
    let status = finished(&s, &token, &again).await;
    assert_eq!(status["state"], "FAILED", "{status}");
    assert_eq!(status["errors"][0]["code"], "CONFLICT");
    assert!(
        status["errors"][0]["error"]
            .as_str()
            .unwrap()
            .contains("already holds")
    );
    let after = vaultrs::kv2::read_metadata(&bao.root(), "secret", &object)
        .await
        .unwrap();
    assert_eq!(after.current_version, before.current_version);
    assert_eq!(after.versions.len(), before.versions.len());
    let r = s.get(&format!("/api/secrets/{id}/value"), &token).await;
    assert_eq!(r.body["value"]["key"], "sk-left-0123456789");
    let meta = s.get(&format!("/api/secrets/{id}"), &token).await;
    assert_eq!(meta.body["vaultId"], "local");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_migrated_to_key_vault_takes_its_expiry_along() {
    let s = spawn().await;
    let azure = secret_store::testing::azure::AzureStandIn::shared();
    let prefix = format!("m{}-", &uuid::Uuid::now_v7().simple().to_string()[..12]);
    let vault = configure(&s, "AZURE_KEY_VAULT", azure.config_json(&prefix, 10)).await;
    let expires = Utc::now() + chrono::Duration::days(9);
    let r = s
        .call(
            Method::POST,
            "/api/secrets",
            &s.token(&root()),
            Some(
                json!({"name": "m-expiring", "type": "API_KEY", "scope": "GLOBAL",
                "value": {"type": "API_KEY", "key": "sk-mig-CANARY-0123456789"},
                "expiresAt": expires.format("%Y-%m-%dT%H:%M:%SZ").to_string()}),
            ),
        )
        .await;
    r.expect(201, "");
    let id = r.body["id"].as_str().unwrap().to_string();
    let (_, values) = history(&s, &id).await;
    leg(
        &s,
        "local",
        &vault,
        &BTreeMap::from([(id.clone(), values)]),
        false,
    )
    .await;
    assert_eq!(
        azure.expiry(&format!("{prefix}{id}")),
        Some(expires.timestamp())
    );
}
