//! Secrets kept in Azure Key Vault, over HTTP against the real server and the in-tree Key
//! Vault **stand-in** (`secret_store::testing::azure`: HTTPS with a test CA, the bearer
//! challenge, the Entra ID token endpoint and the secrets data plane), reached through the
//! official SDK clients: the service-level suite of `external`. On SQLite, and PostgreSQL
//! with `DATABASE_URL`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod external;

use external::ExternalVault;
use secret_store::testing::azure::AzureStandIn;
use secret_store::testing::controls::Controlled;
use serde_json::Value;

impl ExternalVault for AzureStandIn {
    fn backend(&self) -> &'static str {
        "AZURE_KEY_VAULT"
    }

    fn config(&self, prefix: &str, timeout_seconds: u64) -> Value {
        self.config_json(prefix, timeout_seconds)
    }

    fn fresh_prefix(&self) -> String {
        format!("t{}-", uuid::Uuid::now_v7().simple())
    }

    fn object(&self, prefix: &str, id: &str) -> String {
        format!("{prefix}{id}")
    }

    async fn current(&self, object: &str) -> Option<Value> {
        self.current_value(object)
    }

    async fn holds(&self, object: &str) -> bool {
        AzureStandIn::holds(self, object)
    }

    async fn write_outside(&self, object: &str, value: Value) {
        AzureStandIn::write_outside(self, object, &value);
    }

    async fn create_outside(&self, object: &str, value: Value) {
        AzureStandIn::write_outside(self, object, &value);
    }

    fn controls(&self) -> &dyn Controlled {
        AzureStandIn::controls(self)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_lives_in_azure_key_vault_through_its_whole_life() {
    external::a_secret_lives_in_the_vault_through_its_whole_life(&AzureStandIn::shared()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_key_vault_answers_503_leaves_nothing_half_written_and_recovers() {
    external::a_hung_vault_answers_503_leaves_nothing_half_written_and_recovers(
        &AzureStandIn::start(),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_vault_writes_interrupted_between_the_vault_and_the_database_are_reconciled() {
    external::writes_interrupted_between_the_vault_and_the_database_are_reconciled(
        &AzureStandIn::shared(),
    )
    .await;
}

const CERT: &str = include_str!("../../secret-core/tests/fixtures/cert_rsa.pem");
const KEY_PKCS8: &str = include_str!("../../secret-core/tests/fixtures/cert_rsa_key.pem");
const KEY_PKCS1: &str = include_str!("../../secret-core/tests/fixtures/cert_rsa_key_pkcs1.pem");
const OTHER_CERT: &str = include_str!("../../secret-core/tests/fixtures/cert_ec.pem");

/// Configures a Key Vault authenticating with the certificate file `path`; returns its id.
async fn certificate_vault(
    s: &secret_testkit::http::Server,
    azure: &AzureStandIn,
    path: &str,
) -> String {
    let prefix = format!("c{}-", &uuid::Uuid::now_v7().simple().to_string()[..12]);
    let r = s
        .call(
            reqwest::Method::POST,
            "/api/vaults",
            &s.token(&secret_core::Principal::user("root").as_super_admin()),
            Some(serde_json::json!({"name": format!("azure-cert-{prefix}"),
                "backend": "AZURE_KEY_VAULT", "scope": "GLOBAL",
                "config": azure.certificate_config_json(&prefix, path)})),
        )
        .await;
    r.expect(201, "");
    r.body["id"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificate_authentication_signs_in_with_a_client_assertion() {
    let azure = AzureStandIn::shared();
    azure.trust_client_certificate(CERT);
    let s = secret_testkit::http::spawn().await;
    let admin = s.token(&secret_testkit::http::org_admin());
    let dir = tempfile::tempdir().unwrap();
    for (n, key) in [KEY_PKCS8, KEY_PKCS1].into_iter().enumerate() {
        // Either order of the blocks, either key format.
        let path = dir.path().join(format!("sp-{n}.pem"));
        let pem = if n == 0 {
            format!("{CERT}{key}")
        } else {
            format!("{key}{CERT}")
        };
        std::fs::write(&path, pem).unwrap();
        let vault = certificate_vault(&s, &azure, path.to_str().unwrap()).await;
        let created =
            external::create_on(&s, &admin, &vault, &format!("CERT_AUTH_{n}"), external::V1).await;
        let id = created["id"].as_str().unwrap();
        let r = s.get(&format!("/api/secrets/{id}/value"), &admin).await;
        r.expect(200, "");
        assert_eq!(r.body["value"]["key"], external::V1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unusable_certificate_file_is_one_fixed_error_and_a_foreign_certificate_is_refused() {
    let azure = AzureStandIn::start();
    azure.trust_client_certificate(OTHER_CERT);
    let s = secret_testkit::http::spawn().await;
    let admin = s.token(&secret_testkit::http::org_admin());
    let dir = tempfile::tempdir().unwrap();
    let only_cert = dir.path().join("only-cert.pem");
    std::fs::write(&only_cert, CERT).unwrap();
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "not a PEM file at all: sk-CANARY-file-0123").unwrap();
    let missing = dir.path().join("missing.pem");
    let mut messages = Vec::new();
    for path in [&only_cert, &garbage, &missing] {
        let vault = certificate_vault(&s, &azure, path.to_str().unwrap()).await;
        let mut body = secret_testkit::http::api_key_body("NEVER", external::V1);
        body["vaultId"] = serde_json::json!(vault);
        let r = s
            .call(reqwest::Method::POST, "/api/secrets", &admin, Some(body))
            .await;
        r.expect(400, "VAULT_NOT_CONFIGURED");
        messages.push(r.body["error"]["message"].as_str().unwrap().to_string());
    }
    // Whether the file exists, or what it holds, is never told.
    assert!(messages.windows(2).all(|w| w[0] == w[1]), "{messages:?}");
    assert!(!messages[0].contains("CANARY") && !messages[0].contains("missing"));

    // A certificate the app registration does not have: Entra ID refuses the assertion.
    let path = dir.path().join("sp.pem");
    std::fs::write(&path, format!("{CERT}{KEY_PKCS8}")).unwrap();
    let vault = certificate_vault(&s, &azure, path.to_str().unwrap()).await;
    let mut body = secret_testkit::http::api_key_body("REFUSED", external::V1);
    body["vaultId"] = serde_json::json!(vault);
    let r = s
        .call(reqwest::Method::POST, "/api/secrets", &admin, Some(body))
        .await;
    r.expect(502, "VAULT_CONNECTION_FAILED");
    assert!(r.text.contains("Entra ID refused"), "{}", r.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_expiry_follows_the_secret_into_key_vaults_exp_attribute() {
    external::the_expiry_follows_the_secret_into_the_vault(
        &AzureStandIn::shared(),
        |azure, object| azure.expiry(object),
        false,
    )
    .await;
}
