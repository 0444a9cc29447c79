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
