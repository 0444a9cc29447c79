//! The conformance suite of the storage-backend contract: every backend, local or external,
//! passes [`run`]. Each check panics with what went wrong.

use secret_core::{SecretType, SecretValue};
use serde_json::{Value, json};

use secret_core::SecretError;

use super::controls::{Controlled, Controls};
use crate::backend::{StorageBackend, StoredValue, ValueTarget};

/// A marker no stored reference or database may contain in clear.
pub const CANARY: &str = "CANARY-3f9c1e-do-not-store-in-clear";

const CERT: &str = include_str!("../../../secret-core/tests/fixtures/cert_rsa.pem");
const CERT_KEY: &str = include_str!("../../../secret-core/tests/fixtures/cert_rsa_key.pem");
const SSH: &str = include_str!("../../../secret-core/tests/fixtures/ssh_ed25519.key");
const SSH_PUB: &str = include_str!("../../../secret-core/tests/fixtures/ssh_ed25519.pub");

/// One value of each of the nine types, each holding [`CANARY`].
pub fn samples() -> Vec<SecretValue> {
    let c = CANARY;
    let wire = [
        json!({"type": "API_KEY", "key": format!("sk-{c}")}),
        json!({"type": "OAUTH2_TOKEN", "accessToken": format!("at-{c}"), "refreshToken": "rt",
               "tokenType": "Bearer", "expiresAt": "2030-06-01T12:00:00Z", "scope": "read"}),
        json!({"type": "USERNAME_PASSWORD", "username": "alice", "password": format!("pw-{c}")}),
        json!({"type": "CERTIFICATE", "certificate": CERT, "privateKey": CERT_KEY,
               "passphrase": c}),
        json!({"type": "SSH_KEY", "privateKey": SSH, "publicKey": SSH_PUB, "keyType": "ed25519",
               "passphrase": c}),
        json!({"type": "CONNECTION_STRING",
               "connectionString": format!("postgres://u:{c}@db:5432/app")}),
        json!({"type": "JSON_CREDENTIAL", "credential": {"type": "service_account", "key": c}}),
        json!({"type": "ENV_VARIABLE_SET", "variables": {"A": c, "B": "2"}}),
        json!({"type": "GENERIC", "value": c}),
    ];
    wire.iter()
        .map(|w| {
            SecretValue::from_json_bytes(w.to_string().as_bytes())
                .unwrap_or_else(|e| panic!("sample {w} does not parse: {e}"))
        })
        .collect()
}

fn wire(v: &SecretValue) -> Value {
    serde_json::from_slice(&v.to_json_bytes().expect("a value serialises")).expect("JSON")
}

fn reference_text(stored: &StoredValue) -> String {
    match stored {
        StoredValue::Local { key_id, ciphertext } => {
            format!("{key_id}{}", String::from_utf8_lossy(ciphertext))
        }
        StoredValue::External {
            vault_ref,
            vault_version_id,
        } => format!("{vault_ref}{vault_version_id:?}"),
    }
}

fn fresh_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Runs every check against `backend`.
pub async fn run(backend: &dyn StorageBackend) {
    health(backend).await;
    every_type_round_trips(backend).await;
    versions_stay_apart(backend).await;
    a_missing_reference_is_an_error(backend).await;
    deletion_removes_every_version(backend).await;
}

async fn health(backend: &dyn StorageBackend) {
    let h = backend.health_check().await.expect("health check answers");
    assert!(
        h.healthy,
        "{:?} reports itself unhealthy: {}",
        backend.kind(),
        h.detail
    );
    assert!(!h.detail.contains(CANARY));
}

async fn every_type_round_trips(backend: &dyn StorageBackend) {
    let samples = samples();
    assert_eq!(samples.len(), SecretType::ALL.len());
    for value in samples {
        let id = fresh_id();
        let target = ValueTarget {
            secret_id: &id,
            secret_name: "CONFORMANCE",
            version: 1,
        };
        let stored = backend
            .store_value(target, &value, None)
            .await
            .unwrap_or_else(|e| panic!("storing {} failed: {e}", value.secret_type()));
        assert!(
            !reference_text(&stored).contains(CANARY),
            "the reference of a {} holds the value in clear",
            value.secret_type()
        );
        let back = backend
            .retrieve_value(target, &stored)
            .await
            .unwrap_or_else(|e| panic!("reading {} back failed: {e}", value.secret_type()));
        assert_eq!(wire(&back), wire(&value), "{} changed", value.secret_type());
        backend
            .delete_secret(&id, &[stored])
            .await
            .expect("deleting a conformance secret");
    }
}

/// A GENERIC value holding `s`.
pub fn generic(s: &str) -> SecretValue {
    SecretValue::from_json_bytes(
        json!({"type": "GENERIC", "value": s})
            .to_string()
            .as_bytes(),
    )
    .expect("a generic value")
}

async fn versions_stay_apart(backend: &dyn StorageBackend) {
    let id = fresh_id();
    let mut refs: Vec<StoredValue> = Vec::new();
    for version in 1..=3 {
        let target = ValueTarget {
            secret_id: &id,
            secret_name: "VERSIONED",
            version,
        };
        let stored = backend
            .store_value(target, &generic(&format!("v{version}")), refs.last())
            .await
            .unwrap_or_else(|e| panic!("storing version {version} failed: {e}"));
        refs.push(stored);
    }
    for (i, stored) in refs.iter().enumerate() {
        let version = i as i64 + 1;
        let target = ValueTarget {
            secret_id: &id,
            secret_name: "VERSIONED",
            version,
        };
        let back = backend
            .retrieve_value(target, stored)
            .await
            .expect("a version reads");
        assert_eq!(wire(&back), wire(&generic(&format!("v{version}"))));
    }
    // Removing an old version leaves the others readable.
    backend
        .remove_versions(&id, &refs[..1])
        .await
        .expect("removing an old version");
    let target = ValueTarget {
        secret_id: &id,
        secret_name: "VERSIONED",
        version: 3,
    };
    backend
        .retrieve_value(target, &refs[2])
        .await
        .expect("the newest version survives");
    backend.delete_secret(&id, &refs).await.expect("deleting");
}

async fn a_missing_reference_is_an_error(backend: &dyn StorageBackend) {
    let id = fresh_id();
    let target = ValueTarget {
        secret_id: &id,
        secret_name: "NOWHERE",
        version: 1,
    };
    let made = backend
        .store_value(target, &generic("here"), None)
        .await
        .expect("storing");
    backend
        .delete_secret(&id, std::slice::from_ref(&made))
        .await
        .expect("deleting");
    // What was deleted no longer reads, for external vaults; the local store's ciphertext
    // lives in the caller's rows, so a wrong binding is what it refuses.
    let other = fresh_id();
    let elsewhere = ValueTarget {
        secret_id: &other,
        secret_name: "NOWHERE",
        version: 1,
    };
    let read = match &made {
        StoredValue::Local { .. } => backend.retrieve_value(elsewhere, &made).await,
        StoredValue::External { .. } => backend.retrieve_value(target, &made).await,
    };
    assert!(
        read.is_err(),
        "a missing or misbound reference read back a value"
    );
}

async fn deletion_removes_every_version(backend: &dyn StorageBackend) {
    let id = fresh_id();
    let t1 = ValueTarget {
        secret_id: &id,
        secret_name: "DELETED",
        version: 1,
    };
    let v1 = backend
        .store_value(t1, &generic("one"), None)
        .await
        .expect("v1");
    let t2 = ValueTarget { version: 2, ..t1 };
    let v2 = backend
        .store_value(t2, &generic("two"), Some(&v1))
        .await
        .expect("v2");
    // Soft delete hides nothing from the service's own rows but marks the vault's copies;
    // restore brings them back.
    backend
        .soft_delete(&id, &[v1.clone(), v2.clone()])
        .await
        .expect("soft delete");
    backend
        .restore(&id, &[v1.clone(), v2.clone()])
        .await
        .expect("restore");
    assert_eq!(
        wire(
            &backend
                .retrieve_value(t2, &v2)
                .await
                .expect("restored value reads")
        ),
        wire(&generic("two"))
    );
    backend
        .delete_secret(&id, &[v1.clone(), v2.clone()])
        .await
        .expect("permanent delete");
    if matches!(v1, StoredValue::External { .. }) {
        assert!(backend.retrieve_value(t1, &v1).await.is_err());
        assert!(backend.retrieve_value(t2, &v2).await.is_err());
    }
    // Deleting again is not an error.
    backend
        .delete_secret(&id, &[v1, v2])
        .await
        .expect("deleting twice");
}

/// Whether two values are the same typed value.
pub fn same(a: &SecretValue, b: &SecretValue) -> bool {
    wire(a) == wire(b)
}

/// With its server frozen, then stopped, a backend answers VAULT_CONNECTION_FAILED as 503
/// (within its time limit), and works again once thawed. `server` is one of the test's own.
pub async fn unavailable_while_hung_or_stopped(
    backend: &dyn StorageBackend,
    server: &dyn Controlled,
) {
    let id = fresh_id();
    let t1 = ValueTarget {
        secret_id: &id,
        secret_name: "HUNG",
        version: 1,
    };
    let v1 = backend
        .store_value(t1, &generic("one"), None)
        .await
        .expect("storing");
    server.pause();
    let err = SecretError::from(
        backend
            .retrieve_value(t1, &v1)
            .await
            .expect_err("a hung read"),
    );
    server.resume();
    assert!(
        matches!(err, SecretError::VaultUnavailable { .. }),
        "hung: {err:?}"
    );
    backend
        .retrieve_value(t1, &v1)
        .await
        .expect("a read once thawed");
    server.stop();
    let err = SecretError::from(
        backend
            .retrieve_value(t1, &v1)
            .await
            .expect_err("a read of a stopped server"),
    );
    assert!(
        matches!(err, SecretError::VaultUnavailable { .. }),
        "stopped: {err:?}"
    );
    assert!(
        backend.health_check().await.is_err(),
        "a stopped server is healthy"
    );
}

/// A server that keeps throttling: the backend tries `attempts` times in all, then answers
/// VAULT_CONNECTION_FAILED as 503 saying so; a single throttled answer is retried away.
pub async fn throttling_is_retried_up_to_a_bound(
    backend: &dyn StorageBackend,
    controls: &Controls,
    attempts: u64,
) {
    // Warm up: logins and challenges happen once.
    backend.health_check().await.expect("a health check");
    let before = controls.requests();
    controls.throttle_next(10);
    let err = SecretError::from(backend.health_check().await.expect_err("throttled"));
    controls.throttle_next(0);
    assert!(
        matches!(err, SecretError::VaultUnavailable { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("throttling"), "{err}");
    assert_eq!(controls.requests() - before, attempts, "attempts made");
    controls.throttle_next(1);
    backend
        .health_check()
        .await
        .expect("one throttled answer is retried");
}
