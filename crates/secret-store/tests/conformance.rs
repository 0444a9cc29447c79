//! The storage-backend conformance suite against every backend built here: the local
//! encrypted store (on SQLite, or PostgreSQL with `DATABASE_URL`), and HashiCorp Vault's KV
//! v2 API on a real OpenBao server, with token and AppRole authentication. Plus what only a
//! real vault shows: check-and-set, custom metadata, max_versions, errors when it is gone.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use common::{TestDb, master_key};
use secret_core::vault::{BackendConfig, Credential, HashicorpVaultConfig, VaultAuth};
use secret_core::{ErrorCode, SecretError, SecretValue};
use secret_store::testing::{conformance, openbao, stub};
use secret_store::{
    HashicorpVaultBackend, KeyManager, LocalEncryptedBackend, StorageBackend, StoredValue,
    ValueTarget,
};

fn bao_config(address: &str, auth: VaultAuth) -> HashicorpVaultConfig {
    let BackendConfig::HashicorpVault(mut c) = BackendConfig::parse(
        secret_core::StorageBackendKind::HashicorpVault,
        serde_json::json!({"address": address, "auth": {"method": "TOKEN", "token": "x"},
                           "timeoutSeconds": 2}),
    )
    .unwrap() else {
        panic!("not a vault config")
    };
    c.auth = auth;
    c
}

fn generic(s: &str) -> SecretValue {
    SecretValue::from_json_bytes(format!(r#"{{"type":"GENERIC","value":"{s}"}}"#).as_bytes())
        .unwrap()
}

#[tokio::test]
async fn the_local_backend_conforms() {
    let t = TestDb::new().await;
    let keys = Arc::new(
        KeyManager::open(t.connect().await, &master_key())
            .await
            .unwrap(),
    );
    conformance::run(&LocalEncryptedBackend::new(keys)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_vault_backend_conforms_with_a_token() {
    let Some(bao) = openbao::server().await else {
        return;
    };
    let auth = VaultAuth::Token {
        token: Credential::new(bao.root_token.clone()),
    };
    let backend = HashicorpVaultBackend::connect(bao_config(&bao.address, auth))
        .await
        .unwrap();
    conformance::run(&backend).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_vault_backend_conforms_with_approle() {
    let Some(bao) = openbao::server().await else {
        return;
    };
    let auth = VaultAuth::AppRole {
        role_id: Credential::new(bao.role_id.clone()),
        secret_id: Credential::new(bao.secret_id.clone()),
        mount: "approle".into(),
    };
    let backend = HashicorpVaultBackend::connect(bao_config(&bao.address, auth))
        .await
        .unwrap();
    conformance::run(&backend).await;
    // Wrong AppRole credentials are refused when the client is built, naming no secret.
    let wrong = VaultAuth::AppRole {
        role_id: Credential::new(bao.role_id.clone()),
        secret_id: Credential::new("not-the-secret-id"),
        mount: "approle".into(),
    };
    let err = HashicorpVaultBackend::connect(bao_config(&bao.address, wrong))
        .await
        .unwrap_err();
    let err = SecretError::from(err);
    assert_eq!(err.code(), ErrorCode::VaultConnectionFailed);
    assert!(!err.to_string().contains("not-the-secret-id"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vault_objects_carry_our_metadata_and_refuse_a_stale_write() {
    let Some(bao) = openbao::server().await else {
        return;
    };
    let auth = VaultAuth::Token {
        token: Credential::new(bao.root_token.clone()),
    };
    let backend = HashicorpVaultBackend::connect(bao_config(&bao.address, auth))
        .await
        .unwrap();
    let id = uuid::Uuid::now_v7().to_string();
    let t1 = ValueTarget {
        secret_id: &id,
        secret_name: "OPENAI_API_KEY",
        version: 1,
    };
    let v1 = backend
        .store_value(t1, &generic("one"), None)
        .await
        .unwrap();
    let (vault_ref, vault_version_id) = match &v1 {
        StoredValue::External {
            vault_ref,
            vault_version_id,
        } => (vault_ref.clone(), vault_version_id.clone()),
        StoredValue::Local { .. } => panic!("not an external reference"),
    };
    let vault_ref = vault_ref.as_str();
    assert_eq!(vault_ref, format!("secret-manager/{id}"));
    assert_eq!(vault_version_id.as_deref(), Some("1"));
    let root = bao.root();
    let meta = vaultrs::kv2::read_metadata(&root, "secret", vault_ref)
        .await
        .unwrap();
    assert_eq!(meta.max_versions, 1000);
    assert!(meta.cas_required);
    let custom = meta.custom_metadata.unwrap();
    assert_eq!(custom["secretManagerId"], id);
    assert_eq!(custom["secretName"], "OPENAI_API_KEY");
    assert_eq!(custom["secretType"], "GENERIC");
    let data: serde_json::Value = vaultrs::kv2::read(&root, "secret", vault_ref)
        .await
        .unwrap();
    assert_eq!(data, serde_json::json!({"type": "GENERIC", "value": "one"}));

    // Someone writes behind our back: our next write, made against version 1, is refused.
    vaultrs::kv2::set_with_options(
        &root,
        "secret",
        vault_ref,
        &serde_json::json!({"type": "GENERIC", "value": "intruder"}),
        vaultrs::api::kv2::requests::SetSecretRequestOptions { cas: 1 },
    )
    .await
    .unwrap();
    let t2 = ValueTarget { version: 2, ..t1 };
    let err = backend
        .store_value(t2, &generic("two"), Some(&v1))
        .await
        .unwrap_err();
    assert_eq!(SecretError::from(err).code(), ErrorCode::Conflict);
    backend.delete_secret(&id, &[v1]).await.unwrap();
    assert!(
        vaultrs::kv2::read_metadata(&root, "secret", vault_ref)
            .await
            .is_err()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vault_that_is_gone_or_hangs_is_unavailable_and_a_bad_token_is_refused() {
    let Some(bao) = openbao::OpenBao::spawn_private().await else {
        return;
    };
    let auth = VaultAuth::Token {
        token: Credential::new(bao.root_token.clone()),
    };
    let backend = HashicorpVaultBackend::connect(bao_config(&bao.address, auth))
        .await
        .unwrap();
    let id = uuid::Uuid::now_v7().to_string();
    let t1 = ValueTarget {
        secret_id: &id,
        secret_name: "HUNG",
        version: 1,
    };
    let v1 = backend
        .store_value(t1, &generic("one"), None)
        .await
        .unwrap();
    // Hung (SIGSTOP): every call times out, and answers VAULT_CONNECTION_FAILED as 503.
    bao.pause();
    let err = SecretError::from(backend.retrieve_value(t1, &v1).await.unwrap_err());
    assert!(
        matches!(err, SecretError::VaultUnavailable { .. }),
        "{err:?}"
    );
    bao.resume();
    backend.retrieve_value(t1, &v1).await.unwrap();
    // Gone: connection refused, the same.
    bao.stop();
    let err = SecretError::from(backend.retrieve_value(t1, &v1).await.unwrap_err());
    assert!(
        matches!(err, SecretError::VaultUnavailable { .. }),
        "{err:?}"
    );
    let health = backend.health_check().await;
    assert!(health.is_err());

    // A token the vault does not know: refused at connect, 502 (the vault answered).
    let shared = openbao::server().await.unwrap();
    let bad = VaultAuth::Token {
        token: Credential::new("s.not-a-token"),
    };
    let err = SecretError::from(
        HashicorpVaultBackend::connect(bao_config(&shared.address, bad))
            .await
            .unwrap_err(),
    );
    assert!(
        matches!(err, SecretError::VaultConnectionFailed { .. }),
        "{err:?}"
    );
    assert!(!err.to_string().contains("not-a-token"));
}

#[tokio::test]
async fn kubernetes_login_sends_the_role_and_the_service_account_token_from_its_file() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let login = r#"{"request_id":"r","lease_id":"","lease_duration":0,"renewable":false,
        "data":null,"warnings":null,"wrap_info":null,"auth":{"client_token":"s.k8s-issued","accessor":"a","policies":["p"],
        "token_policies":["p"],"metadata":null,"lease_duration":3600,"renewable":true,
        "entity_id":"e","token_type":"service","orphan":true}}"#;
    let server = tokio::spawn(stub::answer(listener, vec![stub::Reply::json(200, login)]));
    let dir = std::env::temp_dir().join(format!("k8s-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    let jwt_path = dir.join("token");
    std::fs::write(&jwt_path, "eyJhbGciOiJSUzI1NiJ9.sa-token.sig\n").unwrap();
    let auth = VaultAuth::Kubernetes {
        role: "secret-manager".into(),
        jwt: None,
        jwt_path: Some(jwt_path.display().to_string()),
        mount: "k8s-prod".into(),
    };
    // A generous time limit: this test is about what the login sends, and on a loaded
    // machine (OpenBao servers starting beside it) two seconds were once too few.
    let mut config = bao_config(&address, auth);
    config.timeout_seconds = 15;
    let backend = HashicorpVaultBackend::connect(config).await;
    let request = server.await.unwrap().remove(0);
    if let Err(e) = &backend {
        panic!("the login's answer was not taken: {e}");
    }
    let (head, body) = request.split_once("\r\n\r\n").unwrap();
    assert!(
        head.starts_with("POST /v1/auth/k8s-prod/login HTTP/1.1"),
        "{head}"
    );
    let body: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"role": "secret-manager", "jwt": "eyJhbGciOiJSUzI1NiJ9.sa-token.sig"})
    );
    assert!(!head.to_ascii_lowercase().contains("x-vault-token: s."));
    std::fs::remove_dir_all(dir).unwrap();
}
